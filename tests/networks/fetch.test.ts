/**
 * `impasto weights fetch` against a loopback HTTP server started here: complete, resumed, corrupt,
 * missing, stalled, concurrent, proxied, and into read-only or full caches. After every case the
 * cache holds either the verified file or nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchWeights } from '../../src/networks/weights/fetch.js';
import { WeightsCacheError } from '../../src/networks/weights/cache.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const payload = randomBytes(300_000);
const sha = createHash('sha256').update(payload).digest('hex');
const md5 = createHash('md5').update(payload).digest('hex');
let server: http.Server;
let base = '';
let tmp = '';
const hits: Record<string, number> = {};
let cutOnce = true;

function serve(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, delayMs = 0) {
  const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const slice = body.subarray(start);
  res.writeHead(m ? 206 : 200, { 'content-length': slice.length, ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
  if (!delayMs) return res.end(slice);
  let i = 0;
  const tick = () => {
    if (i >= slice.length) return res.end();
    res.write(slice.subarray(i, i + 30_000));
    i += 30_000;
    setTimeout(tick, delayMs);
  };
  tick();
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'impasto-fetch-'));
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const key = `${req.headers['x-proxied'] ? 'proxy:' : ''}${url.pathname}${req.headers.range ? ' range' : ''}`;
    hits[key] = (hits[key] ?? 0) + 1;
    if (req.url!.startsWith('http://')) hits['absolute-uri'] = (hits['absolute-uri'] ?? 0) + 1;
    // The traversal test's URL: serves the good payload, so a URL-derived name would be written.
    if (url.pathname.endsWith('escaped.bin')) return serve(req, res, payload, 0);
    switch (url.pathname) {
      case '/ok/w.bin':
      case '/slow/w.bin':
        return serve(req, res, payload, url.pathname.startsWith('/slow') ? 100 : 0); // slow: ~1.5 s, so a second process started meanwhile finds the lock
      case '/cut/w.bin':
        if (cutOnce && !req.headers.range) {
          cutOnce = false;
          res.writeHead(200, { 'content-length': payload.length });
          res.write(payload.subarray(0, payload.length / 2));
          setTimeout(() => res.socket?.destroy(), 50);
          return;
        }
        return serve(req, res, payload);
      case '/bad/w.bin':
        return serve(req, res, Buffer.from(payload).fill(7, 1000, 2000));
      case '/loop/w.bin':
        res.writeHead(302, { location: '/loop/w.bin' });
        return res.end();
      case '/to-file/w.bin':
        res.writeHead(302, { location: 'file:///etc/passwd' });
        return res.end();
      case '/endless/w.bin': {
        // No Content-Length, and a body that never ends: stopped at the expected size.
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = () => {
          if (res.destroyed) return;
          while (res.write(chunk)) if (res.destroyed) return;
          res.once('drain', pump);
        };
        pump();
        return;
      }
      case '/stall/w.bin':
        res.writeHead(200, { 'content-length': payload.length });
        res.write(payload.subarray(0, 1000));
        return; // then nothing
      default:
        res.writeHead(404);
        res.end('not here');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(tmp, { recursive: true, force: true });
});

async function cacheState(dir: string) {
  const list = async (sub: string) => (await readdir(path.join(dir, sub)).catch(() => [])).filter((f) => !f.endsWith('.source'));
  return { models: await list('models'), downloads: await list('downloads'), locks: await list('locks') };
}

const env = { IMPASTO_HOME: '', NO_PROXY: '*' } as NodeJS.ProcessEnv;
const opts = (dir: string, route: string, extra = {}) => ({ file: 'w.bin', url: `${base}/${route}/w.bin`, hash: `sha256:${sha}`, root: dir, env, stallMs: 1000, ...extra });

test('a complete download is verified (sha256 or md5) and moved into models/', async () => {
  const dir = path.join(tmp, 'complete');
  const p = await fetchWeights(opts(dir, 'ok'));
  assert.deepEqual(await readFile(p), payload);
  assert.deepEqual(await cacheState(dir), { models: ['w.bin'], downloads: [], locks: [] });
  const dir2 = path.join(tmp, 'complete-md5');
  await fetchWeights(opts(dir2, 'ok', { hash: `md5:${md5}`, bytes: payload.length }));
  const again = hits['/ok/w.bin'];
  await fetchWeights(opts(dir2, 'ok', { hash: `md5:${md5}` }));
  assert.equal(hits['/ok/w.bin'], again, 'a cached file is never downloaded again');
});

test('a connection cut halfway is resumed with an HTTP Range request', async () => {
  const dir = path.join(tmp, 'cut');
  const notices: string[] = [];
  const p = await fetchWeights(opts(dir, 'cut', { onNotice: (m: string) => notices.push(m) }));
  assert.deepEqual(await readFile(p), payload);
  assert.equal(hits['/cut/w.bin range'], 1, 'the second request asked for the rest only');
  assert.match(notices.join('\n'), /broke off at \d+ bytes .*resuming/);
});

test('a checksum mismatch is a clear error and leaves nothing in the cache', async () => {
  const dir = path.join(tmp, 'bad');
  await assert.rejects(fetchWeights(opts(dir, 'bad')), (e: Error) => e instanceof WeightsCacheError && /checksum mismatch for w\.bin: expected sha256:[0-9a-f]+, received sha256:[0-9a-f]+; .*Nothing was cached/.test(e.message));
  assert.deepEqual(await cacheState(dir), { models: [], downloads: [], locks: [] });
});

test('HTTP 404 is a clear error', async () => {
  const dir = path.join(tmp, 'missing');
  await assert.rejects(fetchWeights(opts(dir, 'nope')), /HTTP 404 Not Found; check the URL/);
  assert.deepEqual((await cacheState(dir)).models, []);
});

test('a server that stalls times out with a clear error; the partial file waits to be resumed', async () => {
  const dir = path.join(tmp, 'stall');
  const t0 = Date.now();
  await assert.rejects(fetchWeights(opts(dir, 'stall')), /stalled: no data for 1 s at 1000 bytes; the partial file is kept/);
  assert.ok(Date.now() - t0 < 10_000);
  const state = await cacheState(dir);
  assert.deepEqual(state.models, []);
  assert.deepEqual(state.locks, [], 'the lock is released');
});

test('HTTP_PROXY is honoured for http URLs', async () => {
  const dir = path.join(tmp, 'proxy');
  const before = hits['absolute-uri'] ?? 0;
  // The loopback server doubles as the proxy: a proxied request arrives with an absolute URI.
  await fetchWeights({ ...opts(dir, 'ok'), url: 'http://weights.example/ok/w.bin', env: { HTTP_PROXY: base } });
  assert.equal(hits['absolute-uri'], before + 1);
  assert.deepEqual((await cacheState(dir)).models, ['w.bin']);
});

test('weights fetch --url never takes the cache file name from the URL: a path-traversal name stays inside the cache', async () => {
  // Where the URL's decoded name '../../../escaped.bin' would land from <dir>/models/.
  const dir = path.join(tmp, 'traversal', 'a', 'b');
  await mkdir(dir, { recursive: true });
  const escaped = path.join(tmp, 'traversal', 'escaped.bin');
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), 'weights', 'fetch',
      '--url', `${base}/ok/x/..%2F..%2F..%2Fescaped.bin`, '--sha256', sha], { env: { ...process.env, IMPASTO_HOME: dir, NO_PROXY: '*' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
  assert.equal(r.code, 0, r.err);
  await assert.rejects(readFile(escaped), /ENOENT/, 'nothing outside the cache');
  await assert.rejects(readFile(`${escaped}.source`), /ENOENT/);
  assert.deepEqual((await cacheState(dir)).models, [`sha256-${sha}.weights`]);
});

test('weights fetch checks --sha256 and --md5 are hexadecimal digests of the right length', async () => {
  for (const [flag, value] of [['--sha256', ''], ['--sha256', 'abc'], ['--md5', 'zz'.repeat(16)]]) {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), 'weights', 'fetch',
        '--url', `${base}/ok/w.bin`, `${flag}=${value}`], { env: { ...process.env, IMPASTO_HOME: path.join(tmp, 'hexcheck'), NO_PROXY: '*' } });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, err }));
    });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`invalid ${flag}: expected (64|32) hexadecimal digits`));
  }
});

test('two processes fetching the same file at once: one download, both succeed', async () => {
  const dir = path.join(tmp, 'concurrent');
  await mkdir(dir, { recursive: true });
  const run = () => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), 'weights', 'fetch', '--url', `${base}/slow/w.bin`, '--sha256', sha],
      { env: { ...process.env, IMPASTO_HOME: dir, NO_PROXY: '*' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
  const [a, b] = await Promise.all([run(), run()]);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  assert.equal(a.out.trim(), path.join(dir, 'models', `sha256-${sha}.weights`), 'a mirror file is named by its checksum');
  assert.equal(b.out.trim(), a.out.trim());
  assert.equal(hits['/slow/w.bin'], 1, 'the file was downloaded once');
  assert.match(a.err + b.err, /another process \(pid \d+\) is downloading sha256-[0-9a-f]{64}\.weights; waiting for it/);
  assert.deepEqual(await readFile(a.out.trim()), payload);
});

/** Mounts a small tmpfs (root only); returns null where mounting is not permitted. */
function mountTmpfs(dir: string, options: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    return null;
  }
}

test('a read-only cache and a full cache each give a clear error and leave nothing behind', async (t) => {
  const ro = path.join(tmp, 'ro');
  const full = path.join(tmp, 'full');
  await mkdir(ro, { recursive: true });
  await mkdir(full, { recursive: true });
  // Every mount made is undone in `finally`, also when the second mount fails after the first.
  const mounted: string[] = [];
  try {
    for (const [dir, options] of [[ro, 'ro,size=1m'], [full, 'size=64k']] as const) {
      if (!mountTmpfs(dir, options)) {
        const why = `mounting a tmpfs at ${dir} was not permitted (needs root and mount rights): the read-only and full-disk cases did not run`;
        console.log(`# SKIPPED: ${why}`);
        t.skip(why);
        return;
      }
      mounted.push(dir);
    }
    await assert.rejects(fetchWeights(opts(ro, 'ok')), /cannot write the weight cache .*ro: it is on a read-only file system \(EROFS\); free some space or set IMPASTO_HOME/);
    await assert.rejects(fetchWeights(opts(full, 'ok')), /cannot write the weight cache .*full: the disk is full \(ENOSPC\)/);
    assert.deepEqual(await cacheState(full), { models: [], downloads: [], locks: [] });
  } finally {
    for (const dir of mounted) execFileSync('umount', [dir]);
    const left = execFileSync('mount', { encoding: 'utf8' }).split('\n').filter((l) => l.includes(tmp));
    assert.deepEqual(left, [], 'no mount is left behind');
  }
});

test('impasto weights list and verify report the cache; a corrupt cached file fails verification', async () => {
  const dir = path.join(tmp, 'listed');
  await mkdir(path.join(dir, 'models'), { recursive: true });
  await writeFile(path.join(dir, 'models', 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'), 'not the real file');
  const cli = (args: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), 'weights', ...args], { env: { ...process.env, IMPASTO_HOME: dir } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
  const list = await cli(['list']);
  assert.equal(list.code, 0);
  assert.match(list.out, /vgg19 --source keras\s+80\.1 MB\s+cached \(0\.0 MB\)\s+CC BY 4\.0/);
  assert.match(list.out, /vgg19 --source torchvision\s+574\.7 MB\s+not cached/);
  assert.match(list.out, /credit: VGG weights by K\. Simonyan and A\. Zisserman/);
  const verify = await cli(['verify']);
  assert.equal(verify.code, 3);
  assert.match(verify.out, /vgg19_weights_tf_dim_ordering_tf_kernels_notop\.h5: MISMATCH \(expected md5:253f8cb515780f3b799900260a226db6, found md5:[0-9a-f]{32}\); delete it and fetch again/);
});

test('fetch refuses other schemes, malformed URLs and redirect loops, and stops an endless body at the expected size', async () => {
  const dir = path.join(tmp, 'schemes');
  await mkdir(dir, { recursive: true });
  await assert.rejects(fetchWeights({ ...opts(dir, 'ok'), url: 'file:///etc/passwd' }), /cannot download file:\/\/\/etc\/passwd: only https: and http: URLs are fetched, received file:/);
  await assert.rejects(fetchWeights({ ...opts(dir, 'ok'), url: 'ftp://example.org/w.bin' }), /only https: and http: URLs are fetched, received ftp:/);
  await assert.rejects(fetchWeights({ ...opts(dir, 'ok'), url: 'not a url' }), /cannot download 'not a url': it is not a URL/);
  await assert.rejects(fetchWeights({ ...opts(dir, 'loop'), env: { NO_PROXY: '*' } }), /redirected more than 5 times \(the last to \/loop\/w\.bin\); the server loops/);
  await assert.rejects(fetchWeights({ ...opts(dir, 'to-file'), env: { NO_PROXY: '*' } }), /was redirected to file:\/\/\/etc\/passwd; only https: and http: are followed/);
  await assert.rejects(fetchWeights({ ...opts(dir, 'endless'), bytes: 1_000_000, env: { NO_PROXY: '*' } }), /sent more than the 1000000 bytes expected; it was stopped and nothing was cached/);
  assert.deepEqual((await cacheState(dir)).models, []);
  const downloads = await readdir(path.join(dir, 'downloads')).catch(() => [] as string[]);
  for (const f of downloads) assert.ok((await stat(path.join(dir, 'downloads', f))).size <= 1_000_000 + 64 * 1024, `${f} stayed near the cap`);
});

test('a stale lock (empty and old, or held by a live process that is not Impasto) does not block a fetch', async () => {
  for (const [name, contents] of [['empty', ''], ['foreign', JSON.stringify({ tool: 'impasto', pid: 1, started: 'not-its-start-time' })], ['junk', 'hello']] as const) {
    const dir = path.join(tmp, `stale-${name}`);
    await mkdir(path.join(dir, 'locks'), { recursive: true });
    const lockFile = path.join(dir, 'locks', 'w.bin.lock');
    await writeFile(lockFile, contents);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockFile, old, old);
    const t0 = Date.now();
    const got = await fetchWeights({ ...opts(dir, 'ok'), env: { NO_PROXY: '*' } });
    assert.equal(got, path.join(dir, 'models', 'w.bin'), name);
    assert.ok(Date.now() - t0 < 5000, `${name}: not waited for`);
    await assert.rejects(stat(lockFile), /ENOENT/, `${name}: the lock is released`);
  }
});

test('weights fetch --url with another scheme or no URL at all is a usage error (exit 2)', async () => {
  for (const url of ['file:///etc/passwd', 'ftp://x/y', '::nonsense']) {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), 'weights', 'fetch', '--url', url, '--sha256', sha], { env: { ...process.env, IMPASTO_HOME: path.join(tmp, 'usage') } });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, err }));
    });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /invalid --url: /);
  }
});
