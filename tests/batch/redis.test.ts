/**
 * `impasto batch --queue redis://…` with `impasto worker` processes, against a real Redis
 * (Debian's redis-server, started here on a free loopback port; .ci/run installs it): six jobs
 * over two workers, a bad input that fails once, and a worker killed with SIGKILL mid-job whose
 * job another worker finishes. Skipped locally without redis-server; fails under CI=true.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { jsonLines, type JsonRun } from './run-json.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const img = (n: string) => path.join(root, 'tests/fixtures/images', n);
const REDIS = '/usr/bin/redis-server';
const have = existsSync(REDIS);
if (!have && process.env.CI) throw new Error(`redis-server is missing at ${REDIS}: .ci/run installs Debian's redis-server`);
const skip = have ? false : 'no redis-server (apt-get install redis-server)';

let dir = '';
let url = '';
let redis: ChildProcess | undefined;
const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function cli(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/bin.ts'), ...args], { cwd: root, env: { ...process.env, IMPASTO_HOME: path.join(dir, 'home') } });
  children.push(child);
  return child;
}

async function worker(): Promise<ChildProcess> {
  const child = cli(['worker', '--queue', url]);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => { err += String(d); if (err.includes('taking jobs')) resolve(); });
    child.on('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
  });
  return child;
}

function batch(args: string[], onLine?: (l: Record<string, unknown>) => void): Promise<JsonRun> {
  return jsonLines(cli(['batch', '--json', '--queue', url, ...args]), onLine);
}

before(async () => {
  if (!have) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-redis-'));
  const port = await freePort();
  url = `redis://127.0.0.1:${port}`;
  redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => { const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); }).on('error', () => resolve(false)); });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  redis?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

const SMALL = ['--network', 'offline', '--size', '40', '--min-size', '40'];
const SIX = ['--content', `${img('tubingen.jpg')},${img('shipwreck.jpg')}`, '--style', `${img('starry_night.jpg')},${img('the_scream.jpg')},${img('woman-with-hat-matisse.jpg')}`];

test('six jobs over two worker processes through Redis: every output valid; a bad input fails once with its reason', { skip, timeout: 180_000 }, async () => {
  const a = await worker();
  const b = await worker();
  const out = path.join(dir, 'six');
  const r = await batch([...SIX, '-o', out, ...SMALL, '--iterations', '4']);
  assert.equal(r.code, 0, r.stderr);
  const summary = r.lines.find((l) => l.type === 'summary') as { done: number; failed: number };
  assert.equal(summary.done, 6);
  const files = await readdir(out);
  assert.equal(files.length, 6);
  for (const f of files) {
    const m = await sharp(path.join(out, f)).metadata();
    assert.deepEqual([m.format, Math.max(m.width!, m.height!)], ['png', 40]);
  }

  const inputs = path.join(dir, 'inputs');
  await mkdir(inputs, { recursive: true });
  await copyFile(img('tubingen.jpg'), path.join(inputs, 'a-good.jpg'));
  await writeFile(path.join(inputs, 'b-broken.jpg'), 'not a JPEG');
  const bad = await batch(['--content', inputs, '--style', img('starry_night.jpg'), '-o', path.join(dir, 'bad'), ...SMALL, '--iterations', '2']);
  assert.equal(bad.code, 3, bad.stderr);
  const failed = bad.lines.filter((l) => l.type === 'job' && l.status === 'failed');
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.error as string, /cannot read content .*b-broken\.jpg: expected a JPEG/);
  a.kill('SIGTERM');
  b.kill('SIGTERM');
});

test('a worker killed with SIGKILL mid-job: another worker takes its job over, every output arrives once', { skip, timeout: 240_000 }, async () => {
  const a = await worker();
  const b = await worker();
  const out = path.join(dir, 'killed');
  let killed = false;
  const r = await batch([...SIX, '-o', out, ...SMALL, '--iterations', '60'], (l) => {
    if (!killed && l.type === 'job' && l.status === 'done') {
      killed = true;
      a.kill('SIGKILL'); // it is mid-job: jobs are fed ahead, so each worker always has one
    }
  });
  assert.ok(killed);
  assert.equal(r.code, 0, r.stderr);
  const done = r.lines.filter((l) => l.type === 'job' && l.status === 'done').map((l) => l.output as string);
  assert.equal(done.length, 6, 'each job done once');
  assert.equal(new Set(done).size, 6);
  assert.equal((await readdir(out)).length, 6);
  b.kill('SIGTERM');
});
