/**
 * `impasto batch --queue redis://…` and `impasto serve --queue …` with `impasto worker`
 * processes, against a real Redis (Debian's redis-server, started here on a free loopback port
 * with an append-only file, so that it can restart with its data; .ci/run installs it): six jobs
 * over two workers, a bad input that fails once, a worker killed with SIGKILL mid-job, Redis
 * restarted mid-batch, SIGTERM handing a job back (or finishing it within the grace period),
 * Ctrl-C cancelling a running remote job, a malformed job refused once, and the web API on the
 * queue. Skipped locally without redis-server; fails under CI=true.
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
import { jobForm, readEvents, startServe } from '../server/serve.js';
import { Queue } from 'bullmq';
import { connectionOf, MAX_JOB_BYTES, QUEUE_NAME } from '../../src/jobs/redis-queue.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const img = (n: string) => path.join(root, 'tests/fixtures/images', n);
const REDIS = '/usr/bin/redis-server';
const have = existsSync(REDIS);
if (!have && process.env.CI) throw new Error(`redis-server is missing at ${REDIS}: .ci/run installs Debian's redis-server`);
const skip = have ? false : 'no redis-server (apt-get install redis-server)';

let dir = '';
let url = '';
let port = 0;
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

interface WorkerProcess {
  readonly child: ChildProcess;
  /** What it has written to stderr so far (one line per job event). */
  log(): string;
  /** Resolves when its log matches `re` (its match). */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  exited(): Promise<number | null>;
}

async function worker(args: string[] = []): Promise<WorkerProcess> {
  const child = cli(['worker', '--queue', url, ...args]);
  let err = '';
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr!.on('data', (d) => { err += String(d); });
  const w: WorkerProcess = {
    child,
    log: () => err,
    waitFor: (re) => new Promise((resolve, reject) => {
      const look = () => {
        const m = re.exec(err);
        if (m) { child.stderr!.off('data', look); resolve(m); }
      };
      child.stderr!.on('data', look);
      void exit.then((code) => { const m = re.exec(err); if (m) resolve(m); else reject(new Error(`worker exited ${code} before ${re}: ${err}`)); });
      look();
    }),
    exited: () => exit,
  };
  await w.waitFor(/taking jobs/);
  return w;
}

async function until(ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 100));
}

const listening = () => new Promise<boolean>((resolve) => { const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); }).on('error', () => resolve(false)); });

/** Starts redis-server on `port`, keeping its data in an append-only file under `dir` (fsync each write). */
async function startRedis(): Promise<void> {
  redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  await until(listening);
}

/** Stops Redis (SIGTERM: it flushes its file and exits), waits 2 s, and starts it again on the same port and data. */
async function restartRedis(): Promise<void> {
  const r = redis!;
  const exited = new Promise((resolve) => r.once('exit', resolve));
  r.kill('SIGTERM');
  await exited;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await startRedis();
}

function batch(args: string[], onLine?: (l: Record<string, unknown>) => void): Promise<JsonRun> {
  return jsonLines(cli(['batch', '--json', '--queue', url, ...args]), onLine);
}

before(async () => {
  if (!have) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-redis-'));
  port = await freePort();
  url = `redis://127.0.0.1:${port}`;
  await startRedis();
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
  // It ran once: one worker started it and reported its failure; no retry.
  const logs = a.log() + b.log();
  assert.equal(logs.match(/started \(attempt \d\): content .*b-broken\.jpg/g)?.length, 1, logs);
  assert.equal(logs.match(/failed: cannot read content .*b-broken\.jpg/g)?.length, 1, logs);
  a.child.kill('SIGTERM');
  b.child.kill('SIGTERM');
  await Promise.all([a.exited(), b.exited()]);
});

test('a worker killed with SIGKILL mid-job: another worker takes its job over, every output arrives once', { skip, timeout: 240_000 }, async () => {
  const a = await worker();
  const b = await worker();
  const out = path.join(dir, 'killed');
  let killed = false;
  const r = await batch([...SIX, '-o', out, ...SMALL, '--iterations', '60'], (l) => {
    if (!killed && l.type === 'job' && l.status === 'done') {
      killed = true;
      a.child.kill('SIGKILL'); // it is mid-job: jobs are fed ahead, so each worker always has one
    }
  });
  assert.ok(killed);
  assert.equal(r.code, 0, r.stderr);
  const done = r.lines.filter((l) => l.type === 'job' && l.status === 'done').map((l) => l.output as string);
  assert.equal(done.length, 6, 'each job done once');
  assert.equal(new Set(done).size, 6);
  assert.equal((await readdir(out)).length, 6);
  b.child.kill('SIGTERM');
  await b.exited();
});

test('Redis restarted mid-batch: the batch and the workers reconnect, every output arrives once', { skip, timeout: 240_000 }, async (t) => {
  const a = await worker();
  const b = await worker();
  const out = path.join(dir, 'restarted');
  let restart: Promise<void> | undefined;
  const r = await batch([...SIX, '-o', out, ...SMALL, '--iterations', '400'], (l) => {
    if (!restart && l.type === 'job' && l.status === 'done') restart = restartRedis(); // both workers are mid-job
  });
  assert.ok(restart, 'Redis was restarted');
  await restart;
  assert.equal(r.code, 0, r.stderr);
  const done = r.lines.filter((l) => l.type === 'job' && l.status === 'done').map((l) => l.output as string);
  assert.equal(done.length, 6);
  assert.equal(new Set(done).size, 6);
  assert.equal((await readdir(out)).length, 6);
  for (const f of await readdir(out)) assert.equal((await sharp(path.join(out, f)).metadata()).format, 'png');
  // A job whose end could not be recorded while Redis was down runs again, so the workers may report more than 6.
  assert.ok(((a.log() + b.log()).match(/ done in /g) ?? []).length >= 6, a.log() + b.log());
  for (const line of `${a.log()}${b.log()}`.split('\n').filter((l) => l.includes(' job '))) t.diagnostic(line);
  a.child.kill('SIGTERM');
  b.child.kill('SIGTERM');
  await Promise.all([a.exited(), b.exited()]);
});

test('a malformed job from another producer is refused once by the worker (no retry), and the worker goes on', { skip, timeout: 60_000 }, async () => {
  const a = await worker();
  const queue = new Queue(QUEUE_NAME, { connection: connectionOf(url) });
  try {
    const bad = await queue.add('stylize', { content: { name: 'x', b64: 42 }, styles: [] }, { attempts: 3 });
    const huge = await queue.add('stylize', { content: { name: 'x', b64: 'A'.repeat(MAX_JOB_BYTES / 0.75 + 4) }, styles: [{ name: 'y', b64: '' }] }, { attempts: 3 });
    for (const job of [bad, huge]) {
      await until(async () => (await job.getState()) === 'failed');
      const j = (await queue.getJob(job.id!))!;
      assert.equal(await j.getState(), 'failed');
      assert.match(j.failedReason, /^invalid job: expected a content and at least one style image, 67108864 bytes at most in all$/);
      assert.equal(j.attemptsMade, 1);
    }
    assert.equal(a.log().match(/refused: not a stylisation job/g)?.length, 2);
    const next = await batch([...ONE, '-o', path.join(dir, 'after-bad'), '--iterations', '3']);
    assert.equal(next.code, 0, next.stderr);
  } finally {
    await queue.close();
    a.child.kill('SIGTERM');
    await a.exited();
  }
});

const ONE = ['--content', img('tubingen.jpg'), '--style', img('starry_night.jpg'), ...SMALL];

test('SIGTERM: a running job goes back to the queue after --grace (no attempt spent) and another worker finishes it; within the grace it finishes first', { skip, timeout: 240_000 }, async () => {
  // --grace 0: handed back at once.
  const a = await worker(['--grace', '0']);
  const out = path.join(dir, 'sigterm');
  const run = batch([...ONE, '-o', out, '--iterations', '1500']);
  const [, id] = await a.waitFor(/job (\S+) started \(attempt 1\)/);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  a.child.kill('SIGTERM');
  assert.equal(await a.exited(), 0, a.log());
  assert.match(a.log(), new RegExp(`job ${id} handed back to the queue`));
  assert.match(a.log(), /stopped \(1 job handed back\)/);
  assert.doesNotMatch(a.log(), / done in /);
  const b = await worker();
  await b.waitFor(new RegExp(`job ${id} started \\(attempt 1\\)`)); // the hand-back spent no attempt
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  assert.equal((r.lines.find((l) => l.type === 'summary') as { done: number }).done, 1);
  assert.match(b.log(), new RegExp(`job ${id} done in`));
  b.child.kill('SIGTERM');
  await b.exited();

  // --grace 60: the running job finishes on the stopping worker; nothing is handed back.
  const c = await worker(['--grace', '60']);
  const run2 = batch([...ONE, '-o', out, '--iterations', '600']);
  const [, id2] = await c.waitFor(/job (\S+) started/);
  c.child.kill('SIGTERM');
  assert.equal(await c.exited(), 0, c.log());
  assert.match(c.log(), new RegExp(`job ${id2} done in`));
  assert.match(c.log(), /stopped \(0 jobs handed back\)/);
  const r2 = await run2;
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal((await readdir(out)).length, 2);
});

test('Ctrl-C on a batch cancels its running remote job: the worker stops it at once and takes the next', { skip, timeout: 120_000 }, async () => {
  const a = await worker();
  const out = path.join(dir, 'cancel');
  const child = cli(['batch', '--json', '--queue', url, ...ONE, '-o', out, '--iterations', '100000']);
  const run = jsonLines(child);
  const [, id] = await a.waitFor(/job (\S+) started/);
  const t0 = Date.now();
  child.kill('SIGINT');
  const r = await run;
  assert.equal(r.code, 130, r.stderr);
  await a.waitFor(new RegExp(`job ${id} cancelled`));
  assert.ok(Date.now() - t0 < 10_000, `cancelled in ${Date.now() - t0} ms`);
  assert.equal(existsSync(out) ? (await readdir(out)).length : 0, 0, 'a cancelled job writes nothing');
  // The worker is free for the next job.
  const next = await batch([...ONE, '-o', out, '--iterations', '3']);
  assert.equal(next.code, 0, next.stderr);
  a.child.kill('SIGTERM');
  await a.exited();
});

test('impasto serve --queue: a web job runs on a worker; its events, previews and result come back through Redis', { skip, timeout: 120_000 }, async () => {
  const a = await worker();
  const server = await startServe(['--queue', url, '--preview-every', '1']);
  try {
    const res = await fetch(`${server.url}/api/jobs`, { method: 'POST', body: await jobForm('tubingen.jpg', ['starry_night.jpg'], { network: 'offline', size: 48, minSize: 48, iterations: 600 })});
    assert.equal(res.status, 202);
    const { id } = (await res.json()) as { id: string };
    const events = await readEvents(`${server.url}/api/jobs/${id}/events`);
    const kinds = events.map((e) => e.event);
    assert.ok(kinds.includes('start') && kinds.includes('iterate') && kinds.includes('done'), kinds.join(' '));
    assert.equal((events.at(-1)!.data.job as { status: string }).status, 'done');
    const previews = events.filter((e) => e.event === 'preview');
    assert.ok(previews.length >= 1, 'a preview came through Redis');
    assert.match(a.log(), new RegExp(`job ${id} done in`));
    const img = await fetch(`${server.url}/api/jobs/${id}/image`);
    assert.equal(img.headers.get('x-impasto-final'), 'true');
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 48, 36]);
    const st = (await (await fetch(`${server.url}/api/jobs/${id}`)).json()) as { status: string; iteration: number; loss: number };
    const done = events.find((e) => e.event === 'done')!.data;
    assert.deepEqual([st.status, st.iteration, st.loss], ['done', done.iterations, done.loss]);
  } finally {
    assert.equal(await server.stop(), 0);
    a.child.kill('SIGTERM');
    await a.exited();
  }
});
