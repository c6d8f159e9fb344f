/**
 * The in-process job queue (src/jobs/local-queue.ts) on its own: a finished job and its result
 * are removed after `keepMs`, stale job folders of an earlier server are swept at start, ids that
 * are not UUIDs reach nothing, and a full waiting line refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalQueue } from '../../src/jobs/local-queue.js';
import { QueueFullError, type JobStatus } from '../../src/jobs/jobs.js';

const images = fileURLToPath(new URL('../fixtures/images/', import.meta.url));

async function input(iterations: number) {
  return {
    content: { name: 'content "tubingen.jpg"', bytes: new Uint8Array(await readFile(path.join(images, 'tubingen.jpg'))) },
    styles: [{ name: 'style 1 "starry_night.jpg"', bytes: new Uint8Array(await readFile(path.join(images, 'starry_night.jpg'))) }],
    options: { network: 'offline' as const, size: 32, minSize: 32, iterations },
  };
}

function ended(q: LocalQueue, id: string): Promise<JobStatus> {
  return new Promise((resolve) => q.subscribe(id, (e) => {
    if (e.type === 'status' && ['done', 'failed', 'cancelled'].includes((e as { job: JobStatus }).job.status)) resolve((e as { job: JobStatus }).job);
  }));
}

test('a finished job and its result file are removed after keepMs; stale folders of an earlier server are swept at start', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-queue-'));
  const stale = path.join(dir, '11111111-1111-4111-8111-111111111111');
  const fresh = path.join(dir, '22222222-2222-4222-8222-222222222222');
  const other = path.join(dir, 'not-a-job');
  for (const d of [stale, fresh, other]) {
    await mkdir(d);
    await writeFile(path.join(d, 'result.png'), 'x');
  }
  const old = new Date(Date.now() - 3600_000);
  await utimes(stale, old, old);
  const q = new LocalQueue({ jobs: 1, queueSize: 1, dir, keepMs: 1500, maxPixels: 1e8, imageEvery: 0 });
  try {
    const id = await q.submit(await input(2));
    const s = await ended(q, id);
    assert.equal(s.status, 'done');
    assert.ok(existsSync(path.join(dir, id, 'result.png')));
    assert.ok(!existsSync(stale), 'a job folder older than keepMs, left by an earlier server, is swept');
    assert.ok(existsSync(fresh) && existsSync(other), 'a recent one, and a folder that is not a job id, are left');
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(q.status(id), undefined, 'the job is forgotten after keepMs');
    assert.ok(!existsSync(path.join(dir, id)), 'and its folder removed');
  } finally {
    await q.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('ids that are not UUIDs reach nothing; a full waiting line refuses; close() cancels and waits', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-queue-'));
  const q = new LocalQueue({ jobs: 1, queueSize: 1, dir, keepMs: 60_000, maxPixels: 1e8, imageEvery: 0 });
  try {
    for (const id of ['..', '../x', '', 'ABCDEF', `${'a'.repeat(8)}-aaaa-4aaa-8aaa-${'a'.repeat(12)}/..`]) {
      assert.equal(q.status(id), undefined);
      assert.equal(q.cancel(id), false);
      assert.equal(await q.image(id), undefined);
      assert.equal(q.subscribe(id, () => {}), undefined);
    }
    const running = await q.submit(await input(100000));
    const waiting = await q.submit(await input(1));
    await assert.rejects(q.submit(await input(1)), (e: unknown) => e instanceof QueueFullError && /the queue is full \(1 jobs waiting\)/.test((e as Error).message));
    assert.equal(q.status(waiting)!.status, 'queued');
    const t0 = performance.now();
    await q.close();
    assert.ok(performance.now() - t0 < 20_000);
    assert.equal(q.status(waiting)!.status, 'cancelled');
    assert.equal(q.status(running)!.status, 'cancelled');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
