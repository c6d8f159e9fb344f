#!/usr/bin/python3
"""PyTorch timing of the same computation as bench/engine.ts: VGG-19 (random He-normal weights) to
relu5_1, content (relu4_2) + paper Gram style (relu1_1..relu5_1) + L2 TV, forward + backward to
the image. Prints one JSON line: {"size", "threads", "fwd_bwd_s", "forward_s", "maxrss_mb"}.
Usage: torch_vgg.py SIZE THREADS REPEATS"""
import json, resource, sys, time
import torch
import torch.nn.functional as F

size, threads, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512]
convs, cin = [], 3
for c in cfg:
    if c == 'M':
        convs.append('M')
        continue
    convs.append((torch.randn(c, cin, 3, 3) * (2 / (cin * 9)) ** 0.5, torch.randn(c) * 0.01))
    cin = c
names = []
b, i = 1, 1
for c in cfg:
    if c == 'M':
        b, i = b + 1, 1
    else:
        names.append(f'relu{b}_{i}')
        i += 1
STYLE = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1']


def feats(x):
    out, k = {}, 0
    h = x
    for c in convs:
        if c == 'M':
            h = F.avg_pool2d(h, 2)
        else:
            h = torch.relu(F.conv2d(h, c[0], c[1], padding=1))
            out[names[k]] = h
            k += 1
    return out


def gram(f):
    n = f.shape[1]
    f = f.reshape(n, -1)
    return f @ f.t()


x0 = torch.rand(1, 3, size, size) * 255
with torch.no_grad():
    t = feats(x0 * 0.9)
    P = t['relu4_2']
    A = {l: gram(t[l]) for l in STYLE}


def loss_fn(x):
    f = feats(x)
    loss = 0.5 * ((f['relu4_2'] - P) ** 2).sum()
    for l in STYLE:
        n, m = f[l].shape[1], f[l].shape[2] * f[l].shape[3]
        loss = loss + 200 * ((gram(f[l]) - A[l]) ** 2).sum() / (4 * n * n * m * m)
    loss = loss + 1e-3 * (((x[:, :, 1:] - x[:, :, :-1]) ** 2).sum() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).sum())
    return loss


def time_it(fn):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def fwd_bwd():
    x = x0.clone().requires_grad_(True)
    loss_fn(x).backward()


def fwd():
    with torch.no_grad():
        feats(x0)


r = {'size': size, 'threads': threads, 'fwd_bwd_s': time_it(fwd_bwd), 'forward_s': time_it(fwd),
     'maxrss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'torch': torch.__version__}
print(json.dumps(r))
