/**
 * Hostile weight files and paths (issue: untrusted inputs). Each must be refused with a typed
 * error that names the file, without touching any other file, within bounded memory and time,
 * and with nothing written to the weight cache.
 *
 * The HDF5 files are made by tools/fixtures/make_hostile.py (h5py); zip and safetensors files are
 * built here byte by byte.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { loadWeightsCached } from '../../src/networks/weights/cache.js';
import { loadWeightsFile, WeightFormatError } from '../../src/networks/weights/load.js';
import { readZip } from '../../src/networks/weights/zip.js';
import { readSafetensors } from '../../src/networks/weights/safetensors.js';
import { readImage, ImageError } from '../../src/image/io-node.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const hostile = path.join(root, 'tests/fixtures/hostile');
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'impasto-hostile-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const rejectsWith = async (p: Promise<unknown>, file: string, reason: RegExp) => {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof WeightFormatError || e instanceof ImageError, `typed error, got ${e.name}: ${e.message}`);
    assert.ok(e.message.includes(path.basename(file)), `names the file: ${e.message}`);
    assert.match(e.message, reason);
    return true;
  });
};

test('HDF5 external storage (absolute and ../ relative), external links, virtual datasets and int64 kernels are refused; no other file is read; nothing is cached', async () => {
  const cache = path.join(tmp, 'cache-h5');
  const cases: [string, RegExp][] = [
    ['external-abs.h5', /keeps its data in another file \(\/etc\/passwd\), HDF5 external storage; .*refused \(that file was not read\)/],
    ['external-rel.h5', /keeps its data in another file \(.*etc\/passwd\), HDF5 external storage/],
    ['external-link.h5', /is an external link to other\.h5; .*links to other files are refused/],
    ['virtual.h5', /is a virtual dataset mapping other\.h5/],
    ['int64-kernel.h5', /holds integers of 8 bytes; expected float32 weights/],
  ];
  for (const [name, reason] of cases) {
    const file = path.join(hostile, name);
    await rejectsWith(loadWeightsCached(file, cache, () => {}), file, reason);
  }
  const left = await readdir(cache, { recursive: true }).catch(() => [] as string[]);
  assert.deepEqual(left.filter((f) => f.endsWith('.safetensors')), [], 'no converted copy in the cache');
});

/** A zip file with one entry; `declared` is the uncompressed size its headers state. */
function zipOf(name: string, compressed: Uint8Array, declared: number, method = 8): Uint8Array {
  const n = Buffer.from(name);
  const local = Buffer.alloc(30 + n.length);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(method, 8);
  local.writeUInt32LE(compressed.length, 18);
  local.writeUInt32LE(declared, 22);
  local.writeUInt16LE(n.length, 26);
  n.copy(local, 30);
  const central = Buffer.alloc(46 + n.length);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(method, 10);
  central.writeUInt32LE(compressed.length, 20);
  central.writeUInt32LE(declared, 24);
  central.writeUInt16LE(n.length, 28);
  central.writeUInt32LE(0, 42);
  n.copy(central, 46);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(local.length + compressed.length, 16);
  return Buffer.concat([local, compressed, central, end]);
}

test('a zip bomb inflates no further than its declared size, and a declaration past deflate’s ratio is refused unread (memory measured)', async () => {
  const bomb = deflateRawSync(Buffer.alloc(200e6)); // 200 MB of zeros in ~200 KB
  const rssBefore = process.memoryUsage().rss;
  // Declared 1000 bytes: inflation stops at 1001.
  const small = readZip(zipOf('archive/data/0', bomb, 1000), 'bomb.pth');
  assert.throws(() => small.get('archive/data/0')!.data(), (e: Error) => e instanceof WeightFormatError && /bomb\.pth: zip entry archive\/data\/0 inflates past its declared 1000 bytes/.test(e.message));
  // Declared 1 GB from ~200 KB: more than deflate can expand, refused before inflating.
  assert.throws(() => readZip(zipOf('archive/data/0', bomb, 1e9), 'bomb2.pth'), /bomb2\.pth: zip entry archive\/data\/0 declares 1000000000 bytes from \d+ compressed, more than deflate can expand/);
  // A stored entry whose declared size differs from what it holds.
  assert.throws(() => readZip(zipOf('a', new Uint8Array(10), 1e6, 0), 'stored.pth'), /stored\.pth: stored zip entry a declares 1000000 bytes but holds 10/);
  const grown = (process.memoryUsage().rss - rssBefore) / 1e6;
  assert.ok(grown < 100, `memory grew by ${grown.toFixed(0)} MB (the bomb would need 200 MB)`);
  console.log(`# zip bomb: RSS grew ${grown.toFixed(1)} MB`);
});

test('safetensors headers with null entries, string shapes, missing or negative offsets are refused with the tensor named', () => {
  const file = (header: unknown, data = 64) => {
    const json = Buffer.from(JSON.stringify(header));
    const out = Buffer.alloc(8 + json.length + data);
    out.writeBigUInt64LE(BigInt(json.length), 0);
    json.copy(out, 8);
    return new Uint8Array(out);
  };
  const cases: [unknown, RegExp][] = [
    [{ w: null }, /evil\.safetensors: header entry 'w' is null; expected \{dtype, shape, data_offsets\}/],
    [{ w: { dtype: 'F32', shape: '4', data_offsets: [0, 16] } }, /tensor 'w' has shape "4"; expected a list of at most 8 non-negative integers/],
    [{ w: { dtype: 'F32', shape: [4] } }, /tensor 'w' has data_offsets undefined; expected \[begin, end\]/],
    [{ w: { dtype: 'F32', shape: [4], data_offsets: [-16, 0] } }, /tensor 'w' has data_offsets \[-16,0\]; expected \[begin, end\] with 0 ≤ begin ≤ end/],
    [{ w: { dtype: 'I64', shape: [4], data_offsets: [0, 32] } }, /tensor 'w' has dtype "I64"; expected F32, F16, BF16 or F64/],
    [[1, 2], /evil\.safetensors: the safetensors header is not a JSON object/],
  ];
  for (const [header, reason] of cases) assert.throws(() => readSafetensors(file(header), 'evil.safetensors'), (e: Error) => e instanceof WeightFormatError && reason.test(e.message), JSON.stringify(header));
});

test('a FIFO, /dev/zero and a directory as weights, or a FIFO as an image, are refused at once, unread', async () => {
  const fifo = path.join(tmp, 'weights.fifo');
  execFileSync('mkfifo', [fifo]);
  const t0 = Date.now();
  await rejectsWith(loadWeightsFile(fifo), fifo, /it is a FIFO \(named pipe\), not a regular file/);
  await rejectsWith(loadWeightsFile('/dev/zero'), '/dev/zero', /it is a character device, not a regular file/);
  const dir = path.join(tmp, 'a-directory');
  await mkdir(dir);
  await rejectsWith(loadWeightsFile(dir), dir, /it is a directory, not a regular file/);
  await rejectsWith(readImage(fifo), fifo, /it is a FIFO \(named pipe\); expected an image file/);
  await rejectsWith(readImage(dir), dir, /it is a directory; expected an image file/);
  assert.ok(Date.now() - t0 < 5000, 'no read blocked');
});

test('the CLI with a FIFO as the content image, the weights or the init exits 3 at once, naming it', async () => {
  const fifo = path.join(tmp, 'cli.fifo');
  execFileSync('mkfifo', [fifo]);
  const img = path.join(root, 'tests/fixtures/images/tubingen.jpg');
  const style = path.join(root, 'tests/fixtures/images/starry_night.jpg');
  const runs: [string[], RegExp][] = [
    [[fifo, style], /cannot read image .*cli\.fifo: it is a FIFO/],
    [[img, style, '--weights', fifo], /cannot read weight file .*cli\.fifo: it is a FIFO/],
    [[img, style, '--init', fifo, '--weights', path.join(root, 'tests/fixtures/reference/net-avg.safetensors'), '--size', '32', '--iterations', '1'], /cannot read image .*cli\.fifo: it is a FIFO/],
  ];
  for (const [args, message] of runs) {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), ...args, '-o', path.join(tmp, 'out.png'), '-q'],
        { env: { ...process.env, IMPASTO_HOME: path.join(tmp, 'cli-cache') } });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, err });
      });
    });
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  }
  await writeFile(path.join(tmp, 'done'), '');
});

test('an ONNX initializer with external data is refused without opening that file; a length that contradicts the dims is refused', async () => {
  const { ModelProto } = await import('../../src/graph/onnx-proto.js');
  const model = (init: Record<string, unknown>) => ModelProto.encode(ModelProto.fromObject({ ir_version: 8, graph: { name: 'g', initializer: [init] } })).finish();
  const external = model({ name: 'conv1_1_w_0', dims: [64, 3, 3, 3], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: '/etc/passwd' }] });
  const file = path.join(tmp, 'external.onnx');
  await writeFile(file, external);
  await rejectsWith(loadWeightsFile(file), file, /initializer conv1_1_w_0 keeps its data in another file \(\/etc\/passwd\), ONNX external data; .*refused/);
  const short = model({ name: 'conv1_1_w_0', dims: [64, 3, 3, 3], data_type: 1, raw_data: new Uint8Array(16) });
  const file2 = path.join(tmp, 'short.onnx');
  await writeFile(file2, short);
  await rejectsWith(loadWeightsFile(file2), file2, /initializer conv1_1_w_0 of dims \[64,3,3,3\] needs 1728 floats but holds 4/);
});

test('the hostile corpus through the CLI: each file exits 3 naming itself, within bounded memory, with nothing cached', async () => {
  const corpus = path.join(tmp, 'corpus');
  await mkdir(corpus, { recursive: true });
  const st = (header: unknown) => {
    const json = Buffer.from(JSON.stringify(header));
    const out = Buffer.alloc(8 + json.length + 64);
    out.writeBigUInt64LE(BigInt(json.length), 0);
    json.copy(out, 8);
    return out;
  };
  const { ModelProto } = await import('../../src/graph/onnx-proto.js');
  const files: [string, Uint8Array | null][] = [
    ['bomb.pth', zipOf('archive/data.pkl', deflateRawSync(Buffer.alloc(50e6)), 1e9)],
    ['null-entry.safetensors', st({ w: null })],
    ['negative-offsets.safetensors', st({ w: { dtype: 'F32', shape: [4], data_offsets: [-16, 0] } })],
    ['string-shape.safetensors', st({ w: { dtype: 'F32', shape: '4', data_offsets: [0, 16] } })],
    ['external.onnx', ModelProto.encode(ModelProto.fromObject({ ir_version: 8, graph: { name: 'g', initializer: [{ name: 'conv1_1_w_0', dims: [1], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: '/etc/passwd' }] }] } })).finish()],
    ['random.bin', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)],
    ['weights.fifo', null],
  ];
  for (const [name, bytes] of files) {
    if (bytes) await writeFile(path.join(corpus, name), bytes);
    else execFileSync('mkfifo', [path.join(corpus, name)]);
  }
  const all = [
    ...['external-abs.h5', 'external-rel.h5', 'external-link.h5', 'virtual.h5', 'int64-kernel.h5'].map((f) => path.join(hostile, f)),
    ...files.map(([f]) => path.join(corpus, f)), '/dev/zero', corpus,
  ];
  const img = path.join(root, 'tests/fixtures/images/tubingen.jpg');
  const style = path.join(root, 'tests/fixtures/images/starry_night.jpg');
  // main() in a child that reports its own peak RSS after returning.
  const wrapper = `const { main } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'cli/main.ts')).href)}); const code = await main(process.argv.slice(1)); process.stderr.write('maxrss ' + process.resourceUsage().maxRSS + '\\n'); process.exit(code);`;
  const rows: string[] = [];
  for (const file of all) {
    const cache = path.join(tmp, `corpus-cache-${rows.length}`);
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', wrapper, img, style, '--weights', file, '-o', path.join(tmp, 'corpus.png'), '-q'],
        { env: { ...process.env, IMPASTO_HOME: cache } });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, err });
      });
    });
    const rss = Number(/maxrss (\d+)/.exec(r.err)?.[1] ?? NaN) / 1024;
    const message = r.err.split('\n').find((l) => l.startsWith('error: ')) ?? '';
    rows.push(`${path.basename(file)} → ${r.code} → ${rss.toFixed(0)} MB → ${message.slice(7, 150)}`);
    assert.equal(r.code, 3, `${file}: ${r.err}`);
    assert.ok(message.includes(path.basename(file)), `${file}: the message names the file: ${message}`);
    assert.ok(rss < 700, `${file}: peak RSS ${rss.toFixed(0)} MB`);
    const cached = await readdir(cache, { recursive: true }).catch(() => [] as string[]);
    assert.deepEqual(cached.filter((f) => /\.(safetensors|h5|pth|onnx)$/.test(f)), [], `${file}: nothing cached`);
  }
  for (const row of rows) console.log(`# corpus: ${row}`);
});

test('a weight cache that runs through a file only costs speed: the .h5 still loads, with a notice', async () => {
  const { kerasH5 } = await import('../weight-writers.js');
  const w = await loadWeightsFile(path.join(root, 'tests/fixtures/weights/tiny-legacy.pth'));
  const tensors = new Map([...w.convs].map(([n, p]) => [n, { w: { data: p.weight, shape: [...p.shape] }, b: { data: p.bias, shape: [p.shape[0]] } }]));
  const h5 = path.join(tmp, 'tiny.h5');
  await kerasH5(h5, 'keras2', tensors);
  const blocker = path.join(tmp, 'a-file');
  await writeFile(blocker, 'not a directory');
  const notices: string[] = [];
  const loaded = await loadWeightsCached(h5, path.join(blocker, 'cache'), (m) => notices.push(m));
  assert.equal(loaded.convs.size, w.convs.size);
  assert.ok(notices.some((m) => /could not store a converted copy of .*tiny\.h5 in .*a-file\/cache .*later loads will parse the original again/.test(m)), notices.join('\n'));
});

test('an .h5 on which the HDF5 library never returns is refused at the time limit, and the process goes on', async () => {
  // Found by the fuzzer (tools/fuzz/loaders.ts --seed 7, keras-h5 case 4602: six flipped bits of
  // its seed file); read in this thread, the HDF5 library does not return.
  const file = path.join(hostile, 'hdf5-hang.h5');
  const t0 = Date.now();
  await rejectsWith(loadWeightsFile(file), file, /the HDF5 library did not finish reading it within 5 s; the file is corrupt or crafted/);
  assert.ok(Date.now() - t0 < 15_000, `refused after ${Date.now() - t0} ms`);
  // The library still serves the next file (a fresh worker per file).
  await rejectsWith(loadWeightsFile(path.join(hostile, 'int64-kernel.h5')), 'int64-kernel.h5', /holds integers of 8 bytes/);
});
