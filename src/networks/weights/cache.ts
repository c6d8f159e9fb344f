/**
 * The weight cache: where downloads land, the table of published files, and the converted copies.
 *
 * Location: `$IMPASTO_HOME`, else `$XDG_CACHE_HOME/impasto`, else `~/.cache/impasto`. Layout:
 *   models/<file>                 verified downloads, moved in atomically
 *   downloads/<file>.part         partial downloads (resumed with HTTP Range)
 *   locks/<file>.lock             held (pid inside) while a process downloads that file
 *   converted/<name>.safetensors  canonical conv weights of a non-safetensors file, for fast loads
 *   default.json                  the file `weights add` made the default (add.ts)
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { VggWeights } from '../vgg.js';
import { loadWeightsFile, sniffFormat } from './load.js';
import { NamedTensor, writeSafetensors } from './safetensors.js';
import { EXIT_CODES } from '../../errors.js';

/** A cache or download failure, with what to do. */
export class WeightsCacheError extends Error {
  override name = 'WeightsCacheError';
  readonly exitCode: number = EXIT_CODES.input;
}

/** The cache root (see the file header). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IMPASTO_HOME) return path.resolve(env.IMPASTO_HOME);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'impasto');
  return path.join(os.homedir(), '.cache', 'impasto');
}

/** A published weight file. */
export interface WeightSource {
  readonly id: string;
  readonly arch: 'vgg19' | 'vgg16';
  readonly source: 'keras' | 'torchvision' | 'timm' | 'caffe' | 'onnx';
  readonly file: string;
  readonly url: string;
  /** Size in bytes, when published. */
  readonly bytes?: number;
  /** Checksum: `md5:<hex>` or `sha256:<hex>`; a `…` marks a hash known only by prefix and suffix. */
  readonly hash?: string;
  readonly licence: string;
  readonly attribution?: string;
}

const OXFORD = 'VGG weights by K. Simonyan and A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", arXiv:1409.1556, licensed CC BY 4.0';

/** Published VGG weight files (sizes, hashes and licences as each host publishes them). */
export const WEIGHT_SOURCES: readonly WeightSource[] = [
  {
    id: 'vgg19-keras', arch: 'vgg19', source: 'keras', file: 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5',
    url: 'https://storage.googleapis.com/tensorflow/keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5',
    bytes: 80_134_624, hash: 'md5:253f8cb515780f3b799900260a226db6', licence: 'CC BY 4.0 (Oxford VGG)', attribution: OXFORD,
  },
  {
    id: 'vgg16-keras', arch: 'vgg16', source: 'keras', file: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    url: 'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    bytes: 58_889_256, hash: 'md5:6d6bbae143d832006294945121d1f1fc', licence: 'CC BY 4.0 (Oxford VGG)', attribution: OXFORD,
  },
  {
    id: 'vgg19-torchvision', arch: 'vgg19', source: 'torchvision', file: 'vgg19-dcbb9e9d.pth', url: 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth',
    bytes: 574_673_361, hash: 'sha256:dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44', licence: 'BSD-3-Clause (torchvision, retrained by PyTorch)',
  },
  {
    id: 'vgg16-torchvision', arch: 'vgg16', source: 'torchvision', file: 'vgg16-397923af.pth', url: 'https://download.pytorch.org/models/vgg16-397923af.pth',
    bytes: 553_433_881, hash: 'sha256:397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0', licence: 'BSD-3-Clause (torchvision, retrained by PyTorch)',
  },
  {
    id: 'vgg19-timm', arch: 'vgg19', source: 'timm', file: 'vgg19.tv_in1k.safetensors', url: 'https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors',
    licence: 'BSD-3-Clause (torchvision weights, timm copy)',
  },
  {
    id: 'vgg16-timm', arch: 'vgg16', source: 'timm', file: 'vgg16.tv_in1k.safetensors', url: 'https://huggingface.co/timm/vgg16.tv_in1k/resolve/main/model.safetensors',
    licence: 'BSD-3-Clause (torchvision weights, timm copy)',
  },
  {
    id: 'vgg19-caffe', arch: 'vgg19', source: 'caffe', file: 'VGG_ILSVRC_19_layers.caffemodel',
    url: 'https://www.robots.ox.ac.uk/~vgg/software/very_deep/caffe/VGG_ILSVRC_19_layers.caffemodel',
    bytes: 574_671_192, hash: 'md5:b5c644beabd7cf06bdd9065cfd674c97', licence: 'CC BY 4.0 (Oxford VGG)', attribution: OXFORD,
  },
  {
    id: 'vgg19-onnx', arch: 'vgg19', source: 'onnx', file: 'vgg19-7.onnx',
    url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/vgg/model/vgg19-7.onnx',
    bytes: 574_677_321, hash: 'sha256:692f9f92…c2046f', licence: 'Apache-2.0 (ONNX model zoo)',
  },
];

/** Looks a source up by architecture and origin. @throws WeightsCacheError listing the choices. */
export function findSource(arch: string, source: string): WeightSource {
  const s = WEIGHT_SOURCES.find((x) => x.arch === arch && x.source === source);
  if (!s) {
    throw new WeightsCacheError(`no published ${arch} file from '${source}'; available: ${WEIGHT_SOURCES.map((x) => `${x.arch} --source ${x.source}`).join(', ')}`);
  }
  return s;
}

/** Path of a source's verified file in the cache. */
export function modelPath(s: Pick<WeightSource, 'file'>, root = cacheDir()): string {
  return path.join(root, 'models', s.file);
}

/** Creates the cache folders. @throws WeightsCacheError when the cache cannot be written. */
export async function ensureCache(root = cacheDir()): Promise<string> {
  for (const sub of ['models', 'downloads', 'locks', 'converted']) {
    try {
      await mkdir(path.join(root, sub), { recursive: true });
    } catch (err) {
      // A recursive mkdir can report ENOENT where the real cause is a read-only file system;
      // a plain mkdir of the leaf tells the true reason.
      const real = await mkdir(path.join(root, sub)).then(() => err, (e: unknown) => ((e as NodeJS.ErrnoException).code === 'ENOENT' ? err : e));
      throw cacheWriteError(root, real);
    }
  }
  return root;
}

/** A readable error for a cache that cannot be written (read-only, full, not a folder). */
export function cacheWriteError(root: string, err: unknown): WeightsCacheError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EROFS' ? 'it is on a read-only file system'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a part of its path is a file' : (err as Error).message;
  return new WeightsCacheError(`cannot write the weight cache ${root}: ${why} (${code ?? 'error'}); free some space or set IMPASTO_HOME to a writable folder`);
}

/** Checks a file against a `md5:`/`sha256:` hash (a `…` checks prefix and suffix). */
export async function checkHash(file: string, expected: string): Promise<{ ok: boolean; actual: string }> {
  const [algo, hex] = expected.split(':') as [string, string];
  const h = createHash(algo);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  const actual = h.digest('hex');
  const [pre, post] = hex.split('…');
  const ok = post === undefined ? actual === hex.toLowerCase() : actual.startsWith(pre!.toLowerCase()) && actual.endsWith(post.toLowerCase());
  return { ok, actual: `${algo}:${actual}` };
}

/** The file `weights add` made the default (`default.json`, see add.ts), if the pointer is sound. */
async function pointedDefault(root: string, notice: (m: string) => void): Promise<Pick<WeightSource, 'file' | 'hash' | 'bytes' | 'source'> | null> {
  const text = await readFile(path.join(root, 'default.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  let p: { file?: unknown; hash?: unknown; bytes?: unknown } = {};
  try {
    p = JSON.parse(text) as typeof p;
  } catch { /* reported below */ }
  const ok = typeof p.file === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(p.file) && typeof p.hash === 'string'
    && /^(md5|sha256):[0-9a-f]+$/.test(p.hash) && Number.isInteger(p.bytes);
  if (!ok) {
    notice(`${path.join(root, 'default.json')} is not a valid default pointer; it is ignored. Run 'impasto weights add FILE' again`);
    return null;
  }
  return { file: p.file as string, hash: p.hash as string, bytes: p.bytes as number, source: 'keras' };
}

/**
 * The default pretrained network if one is cached and intact: the file `weights add` named
 * (`default.json`), else the Keras VGG-19 (Oxford weights) first. A file with a checksum is
 * checked once: its size at every call, its hash the first time and whenever its size or
 * modification time changed (the result is kept beside it in `<file>.verified`). A file that fails
 * is skipped, and `notice` says so and what to do.
 */
export async function cachedDefault(root = cacheDir(), notice: (m: string) => void = () => {}): Promise<string | null> {
  const pointed = await pointedDefault(root, notice);
  const candidates = ['vgg19-keras', 'vgg19-torchvision', 'vgg19-timm', 'vgg19-caffe', 'vgg19-onnx'].map((id) => WEIGHT_SOURCES.find((x) => x.id === id)!);
  for (const s of pointed ? [pointed, ...candidates] : candidates) {
    const p = modelPath(s, root);
    const info = await stat(p).catch(() => null);
    if (!info?.isFile()) continue;
    if (!s.hash) return p; // published without a checksum (timm): nothing to check against
    const bad = (why: string) => notice(`the cached ${s.file} ${why}; it is not used. Delete it and run ${s === pointed ? "'impasto weights add FILE'" : `'impasto weights fetch --source ${s.source}'`} again`);
    if (s.bytes !== undefined && info.size !== s.bytes) {
      bad(`has ${info.size} bytes, but the published file has ${s.bytes}`);
      continue;
    }
    const stampFile = `${p}.verified`;
    const stamp = JSON.stringify({ size: info.size, mtimeMs: info.mtimeMs, hash: s.hash });
    if ((await readFile(stampFile, 'utf8').catch(() => null)) === stamp) return p;
    const { ok, actual } = await checkHash(p, s.hash);
    if (!ok) {
      bad(`does not match its published checksum (expected ${s.hash}, found ${actual})`);
      continue;
    }
    await writeFile(stampFile, stamp).catch(() => {}); // an unwritable cache only costs a re-check
    return p;
  }
  return null;
}

/**
 * Loads weights, through the converted cache when the file is not already safetensors: the first
 * load parses the original and stores canonical conv weights as safetensors (temp file + rename);
 * later loads read that copy. The key is the file's real path, size and modification time.
 * A cache that cannot be written only costs speed: `onNotice` is told, the load goes on.
 */
export async function loadWeightsCached(file: string, root = cacheDir(), onNotice: (m: string) => void = () => {}): Promise<VggWeights> {
  let info;
  try {
    info = await stat(file);
  } catch {
    return loadWeightsFile(file); // reports the missing file
  }
  // A FIFO, device or directory: loadWeightsFile refuses it without reading (opening one to read
  // its head here could block).
  if (!info.isFile()) return loadWeightsFile(file);
  const head = new Uint8Array(await readHead(file, 32));
  if (sniffFormat(head) === 'safetensors') return loadWeightsFile(file);
  const converted = convertedPath(file, info, root);
  try {
    const w = await loadWeightsFile(converted);
    return { ...w, source: file };
  } catch {
    // not converted yet (or unreadable): convert below
  }
  const w = await loadWeightsFile(file);
  try {
    await ensureCache(root);
    const tensors = new Map<string, NamedTensor>();
    for (const [n, p] of w.convs) {
      tensors.set(`${n}.weight`, { data: p.weight, shape: p.shape });
      tensors.set(`${n}.bias`, { data: p.bias, shape: [p.shape[0]] });
    }
    const tmp = `${converted}.${process.pid}.tmp`;
    await writeFile(tmp, writeSafetensors(tensors, { 'impasto.preprocess': w.preprocess.name, 'impasto.source': file }));
    await rename(tmp, converted);
  } catch (err) {
    await rm(`${converted}.${process.pid}.tmp`, { force: true }).catch(() => {}); // ENOTDIR when the cache runs through a file
    onNotice(`could not store a converted copy of ${file} in ${root} (${(err as Error).message}); later loads will parse the original again`);
  }
  return w;
}

/** Where the safetensors copy of a non-safetensors weight file lives: keyed by its real path, size and modification time. */
function convertedPath(file: string, info: { size: number; mtimeMs: number }, root: string): string {
  const key = createHash('sha256').update(`${path.resolve(file)}\0${info.size}\0${info.mtimeMs}`).digest('hex').slice(0, 16);
  return path.join(root, 'converted', `${path.basename(file).replace(/[^\w.-]/g, '_')}-${key}.safetensors`);
}

/**
 * The cached default network ({@link cachedDefault}) as a safetensors file, for a client that
 * parses only that format (the browser): the file itself, or its converted copy, converting it
 * on the first call (which parses the original: seconds for a large file). null: no default, or
 * its copy could not be stored.
 */
export async function cachedDefaultSafetensors(root = cacheDir(), notice: (m: string) => void = () => {}): Promise<string | null> {
  const file = await cachedDefault(root, notice);
  if (!file) return null;
  if (sniffFormat(new Uint8Array(await readHead(file, 32))) === 'safetensors') return file;
  await loadWeightsCached(file, root, notice);
  const converted = convertedPath(file, await stat(file), root);
  return (await stat(converted).catch(() => null))?.isFile() ? converted : null;
}

async function readHead(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
