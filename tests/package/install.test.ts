/**
 * The package as a user installs it: `npm pack`, then `npm install <tarball>` into a fresh project
 * with no network (npm's offline mode, proxies on a closed loopback port), then
 * `npx impasto --help` and a small library call from that project.
 *
 * Offline, npm cannot ask the registry which versions satisfy a range, so the fresh project gets a
 * lockfile holding the production entries of Impasto's own package-lock.json (the versions this
 * suite tests); npm then takes every tarball from its cache, which `npm ci` filled. With internet,
 * a plain `npm install impasto-nst` resolves the same tree itself.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
let dir = '';
let project = '';
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/**
 * No network: npm's offline mode, and every proxy set to a loopback port nothing listens on (the
 * registry itself stays as the lockfile names it, since npm's cache is keyed by those URLs).
 */
const closed = 'http://127.0.0.1:9/';
const offlineEnv = {
  ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_offline: 'true', npm_config_proxy: closed, npm_config_https_proxy: closed,
  HTTPS_PROXY: closed, HTTP_PROXY: closed, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false',
};

async function du(p: string): Promise<number> {
  const { stdout } = await run('du', ['-sk', p]);
  return Number(stdout.split('\t')[0]) * 1024;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-pack-'));
  const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root, env: offlineEnv, maxBuffer: 64 << 20 });
  const packed = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  assert.ok(files.includes('dist/cli/bin.js') && files.includes('bin/impasto.js'), 'the tarball holds the compiled CLI');
  assert.ok(!files.some((f) => f.startsWith('tests/') || f.startsWith('src/')), 'no tests or TypeScript sources in the tarball');

  project = path.join(dir, 'project');
  await mkdir(project);
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'fresh-project', version: '1.0.0', type: 'module', private: true }));
  const lock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; link?: boolean }> };
  const production = Object.fromEntries(Object.entries(lock.packages).filter(([k, v]) => k !== '' && !v.dev && !v.link));
  await writeFile(path.join(project, 'package-lock.json'), JSON.stringify({
    name: 'fresh-project', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: { '': { name: 'fresh-project', version: '1.0.0' }, ...production },
  }));
  await run(npm, ['install', path.join(dir, packed[0]!.filename)], { cwd: project, env: offlineEnv, maxBuffer: 64 << 20 });
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('npm install <tarball> offline: the CLI runs, and the browser engine is not installed', async () => {
  const installed = await readdir(path.join(project, 'node_modules'));
  assert.ok(installed.includes('impasto-nst') && installed.includes('onnxruntime-node') && installed.includes('sharp'));
  assert.ok(!installed.includes('onnxruntime-web'), 'onnxruntime-web is an optional peer: not installed for Node users');
  const size = await du(path.join(project, 'node_modules'));
  assert.ok(size < 400e6, `installed size ${(size / 1e6).toFixed(0)} MB`);
  process.stderr.write(`# installed size: ${(size / 1e6).toFixed(0)} MB\n`);

  const help = await run(npm, ['exec', '--', 'impasto', '--help'], { cwd: project, env: offlineEnv });
  assert.match(help.stdout, /Usage:\n {2}impasto <content> <style\.\.\.>/);
  assert.match(help.stdout, /--strength/);

  // The installed CLI fails on an output it cannot write before it loads anything heavy.
  const bin = path.join(project, 'node_modules', 'impasto-nst', 'bin', 'impasto.js');
  const t0 = performance.now();
  const failed = await run(process.execPath, [bin, 'photo.jpg', 'painting.jpg', '-o', '/nonexistent/dir/x.png'], { cwd: project, env: offlineEnv }).then(() => null, (e: { code: number; stderr: string }) => e);
  const ms = performance.now() - t0;
  assert.equal(failed?.code, 3);
  assert.match(failed!.stderr, /cannot write \/nonexistent\/dir\/x\.png: the directory \/nonexistent\/dir does not exist/);
  assert.ok(ms < 1000, `exited after ${ms.toFixed(0)} ms`);
  process.stderr.write(`# bad output path: exit 3 after ${ms.toFixed(0)} ms\n`);
});

test('the library from the installed package: a small stylisation, and the web engine says how to install it', async () => {
  const script = `
    import { stylize } from 'impasto-nst';
    const w = 48, h = 40;
    const img = (f) => ({ width: w, height: h, data: Uint8Array.from({ length: 3 * w * h }, (_, i) => f(i)) });
    const content = img((i) => (i * 7) % 251), style = img((i) => (i % 3) * 100 + ((i >> 4) % 2) * 50);
    const r = await stylize({ content, style, network: 'offline', size: 48, iterations: 6 });
    let webError = '';
    try { await stylize({ content, style, network: 'offline', size: 48, iterations: 1, engine: 'web' }); } catch (e) { webError = e.message; }
    console.log(JSON.stringify({ width: r.image.width, height: r.image.height, bytes: r.image.data.length, loss: r.loss, initial: r.initialLoss, iterations: r.iterations, webError }));
  `;
  await writeFile(path.join(project, 'call.mjs'), script);
  const { stdout } = await run(process.execPath, ['call.mjs'], { cwd: project, env: offlineEnv });
  const r = JSON.parse(stdout) as { width: number; height: number; bytes: number; loss: number; initial: number; iterations: number; webError: string };
  assert.deepEqual([r.width, r.height, r.bytes], [48, 40, 3 * 48 * 40]);
  assert.ok(r.loss < r.initial, `the loss fell: ${r.initial} → ${r.loss}`);
  assert.equal(r.iterations, 6);
  assert.match(r.webError, /onnxruntime-web is not installed.*npm install onnxruntime-web/);
});

test('impasto serve from the installed package: the page and the API answer, and in-browser runs are not offered without onnxruntime-web', async () => {
  const bin = path.join(project, 'node_modules', 'impasto-nst', 'bin', 'impasto.js');
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0'], { cwd: project, env: { ...offlineEnv, IMPASTO_HOME: path.join(dir, 'home') } });
  try {
    let err = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no 'listening' line in 30 s: ${err}`)), 30_000);
      child.stderr.on('data', (d) => {
        err += String(d);
        const m = /listening on http:\/\/[^:]+:(\d+)/.exec(err);
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
      });
    });
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.match(await page.text(), /<title>Impasto/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/app.js`)).status, 200);
    const opts = (await (await fetch(`http://127.0.0.1:${port}/api/options`)).json()) as { device: boolean; options: unknown[] };
    assert.equal(opts.device, false);
    assert.ok(opts.options.length > 30);
  } finally {
    child.kill('SIGTERM');
  }
});
