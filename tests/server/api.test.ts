/**
 * The HTTP API of `impasto serve`, against the real command on a loopback port: a job from upload
 * to image, its events and previews, cancelling, the limits (413), bad images and options (400),
 * unknown ids (404), path traversal in every parameter, foreign hosts and origins, and 20
 * concurrent submissions against a queue of 5.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { images, jobForm, readEvents, startServe, type Served } from './serve.js';

let server: Served;
const SMALL = { network: 'offline', size: 48, minSize: 48, iterations: 8 };

before(async () => {
  server = await startServe(['--preview-every', '2', '--queue-size', '5', '--max-upload-mb', '1', '--max-pixels', '4000000', '--max-size', '512']);
});
after(async () => {
  const code = await server.stop();
  assert.equal(code, 0, `impasto serve should stop cleanly on SIGTERM:\n${server.log()}`);
});

async function submit(form: FormData, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/api/jobs`, { method: 'POST', body: form, headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function waitFor<T>(f: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a job: 202 with an id, live events with previews, then the final image as a PNG of the asked size', async () => {
  const { status, body } = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], SMALL));
  assert.equal(status, 202, JSON.stringify(body));
  const id = body.id as string;
  assert.match(id, /^[0-9a-f-]{36}$/);
  const events = await readEvents(`${server.url}/api/jobs/${id}/events`);
  const kinds = events.map((e) => e.event);
  assert.equal(kinds[0], 'status');
  assert.ok(kinds.includes('start') && kinds.includes('scale') && kinds.includes('done'), kinds.join(' '));
  const iterates = events.filter((e) => e.event === 'iterate').map((e) => e.data);
  assert.equal(iterates.length, 8);
  assert.deepEqual(iterates.map((e) => e.iteration), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok((iterates[7]!.loss as number) < (iterates[0]!.loss as number), 'the loss falls');
  const previews = events.filter((e) => e.event === 'preview').map((e) => e.data);
  assert.ok(previews.length >= 2, `at least two previews, got ${previews.length}`);
  const last = events.at(-1)!;
  assert.equal(last.event, 'status');
  assert.equal((last.data.job as { status: string }).status, 'done');

  const st = (await (await fetch(`${server.url}/api/jobs/${id}`)).json()) as Record<string, unknown>;
  assert.equal(st.status, 'done');
  assert.equal(st.iteration, 8);
  assert.equal(st.iterations, 8);
  assert.equal(st.loss, (events.find((e) => e.event === 'done')!.data.loss as number));

  // A preview URL (as the events give it) answers with a PNG; the download is the 48 px result.
  const res = await fetch(`${server.url}${previews[0]!.url as string}`);
  assert.equal(res.headers.get('content-type'), 'image/png');
  const dl = await fetch(`${server.url}/api/jobs/${id}/image?download=1`);
  assert.equal(dl.status, 200);
  assert.match(dl.headers.get('content-disposition') ?? '', /^attachment; filename="impasto-[0-9a-f]{8}\.png"$/);
  assert.equal(dl.headers.get('x-impasto-final'), 'true');
  const meta = await sharp(Buffer.from(await dl.arrayBuffer())).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 48, 36]);
  // The result is stored under the cache folder by its random id.
  assert.ok(existsSync(path.join(server.home, 'jobs', id, 'result.png')));
});

test('DELETE cancels a running job: status cancelled, its last image kept, the next job runs', async () => {
  const { body } = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], { ...SMALL, iterations: 100000 }));
  const id = body.id as string;
  let cancelledAt = 0;
  const events = await readEvents(`${server.url}/api/jobs/${id}/events`, (e) => {
    if (e.event === 'iterate' && e.data.iteration === 3) {
      cancelledAt = Date.now();
      void fetch(`${server.url}/api/jobs/${id}`, { method: 'DELETE' }).then((r) => assert.equal(r.status, 202));
    }
  });
  const final = events.at(-1)!;
  assert.equal((final.data.job as { status: string }).status, 'cancelled');
  assert.ok(Date.now() - cancelledAt < 10_000, 'cancelled within seconds');
  const its = events.filter((e) => e.event === 'iterate').length;
  assert.ok(its >= 3 && its < 100, `stopped soon after the cancel (${its} iterations)`);
  const img = await fetch(`${server.url}/api/jobs/${id}/image`);
  assert.equal(img.status, 200);
  assert.equal((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).width, 48);
  // A queued job cancels at once.
  const a = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], { ...SMALL, iterations: 100000 }));
  const b = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], SMALL));
  const del = await fetch(`${server.url}/api/jobs/${b.body.id as string}`, { method: 'DELETE' });
  assert.equal(((await del.json()) as { status: string }).status, 'cancelled');
  await fetch(`${server.url}/api/jobs/${a.body.id as string}`, { method: 'DELETE' });
  await waitFor(async () => ((await (await fetch(`${server.url}/api/jobs/${a.body.id as string}`)).json()) as { status: string }).status === 'cancelled' || undefined, 'the running job to cancel');
});

test('limits: an upload over the size limit gives 413; an image over the pixel limit gives 413; an output over the size limit gives 413', async () => {
  const big = new Uint8Array(1.5 * 1024 * 1024).fill(7);
  const r1 = await submit(await jobForm(big, ['starry_night.jpg'], SMALL));
  assert.equal(r1.status, 413);
  assert.match(r1.body.error as string, /over this server's limit of 1 MB a file/);
  const huge = await sharp({ create: { width: 2100, height: 2000, channels: 3, background: '#888' } }).png({ compressionLevel: 9 }).toBuffer();
  const r2 = await submit(await jobForm(new Uint8Array(huge), ['starry_night.jpg'], SMALL));
  assert.equal(r2.status, 413);
  assert.match(r2.body.error as string, /content "upload\.bin" is 2100×2000 px \(4\.2 Mpx\); this server takes images up to 4 Mpx/);
  // A body without a declared length cannot be budgeted: 411.
  const body = new Response(await jobForm('tubingen.jpg', ['starry_night.jpg'], SMALL));
  const chunked = await fetch(`${server.url}/api/jobs`, { method: 'POST', body: body.body, headers: { 'content-type': body.headers.get('content-type')! }, duplex: 'half' } as RequestInit);
  assert.equal(chunked.status, 411);
  const r3 = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], { ...SMALL, size: 4000 }));
  assert.equal(r3.status, 413);
  assert.match(r3.body.error as string, /size 4000 is over this server's limit of 512 px/);
});

test('400: a non-image, a bad option (the CLI\'s message), a path-valued option, missing fields', async () => {
  const r1 = await submit(await jobForm(new TextEncoder().encode('not an image at all'), ['starry_night.jpg'], SMALL));
  assert.equal(r1.status, 400);
  assert.match(r1.body.error as string, /^cannot read content "upload\.bin": expected a JPEG, PNG, WebP, TIFF, GIF or AVIF file, but it is not a readable image/);
  const r2 = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], { styleWeight: -1 }));
  assert.equal(r2.status, 400);
  assert.equal(r2.body.error, 'invalid styleWeight: expected a number ≥ 0, received -1');
  const r3 = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], { sise: 64 }));
  assert.match(r3.body.error as string, /^unknown option 'sise'/);
  const r4 = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], 'not json'));
  assert.equal(r4.status, 400);
  assert.match(r4.body.error as string, /^invalid options: not JSON/);
  const form = new FormData();
  form.append('content', new Blob([await readFile(path.join(images, 'tubingen.jpg'))]), 'tubingen.jpg');
  const r5 = await submit(form);
  assert.equal(r5.status, 400);
  assert.match(r5.body.error as string, /^missing style/);
});

test('path traversal is refused in every parameter: the id, the page\'s routes, option values and file names', async () => {
  const ids = ['..', '../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fpackage.json', '....//....//etc/passwd', encodeURIComponent('/etc/passwd'), '..\\..\\package.json', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/../../x'];
  for (const id of ids) {
    for (const suffix of ['', '/events', '/image']) {
      for (const method of suffix === '' ? ['GET', 'DELETE'] : ['GET']) {
        const res = await fetch(`${server.url}/api/jobs/${id}${suffix}`, { method });
        const text = await res.text();
        assert.equal(res.status, 404, `${method} /api/jobs/${id}${suffix} → ${res.status}`);
        assert.doesNotMatch(text, /root:|impasto-nst|"dependencies"/);
      }
    }
  }
  for (const p of ['/..%2fpackage.json', '/app.js/../../package.json', '/web/../package.json', '/%2e%2e/package.json', '/index.html', '/../README.md', '/api/../package.json']) {
    const res = await fetch(`${server.url}${p}`);
    const text = await res.text();
    assert.ok(res.status === 404 || (res.status === 200 && text.includes('<title>Impasto')), `${p} → ${res.status}`);
    assert.doesNotMatch(text, /impasto-nst|"dependencies"/, p);
  }
  // Options that name files are refused, whatever the path.
  for (const [key, value] of [['weights', '/etc/passwd'], ['checkpoint', '../../x.ckpt'], ['resume', '/etc/shadow'], ['contentMasks', ['../m.png']], ['styleMasks', ['/etc/passwd']], ['init', '../../../etc/passwd']] as const) {
    const r = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], { ...SMALL, [key]: value }));
    assert.equal(r.status, 400, key);
    assert.match(r.body.error as string, key === 'init' ? /^invalid init: expected one of 'content', 'noise', 'style'/ : new RegExp(`^option ${key} cannot be set here: a path on the machine that runs the job`));
  }
  // An upload's file name is only a label.
  const evil = new FormData();
  evil.append('content', new Blob([await readFile(path.join(images, 'tubingen.jpg'))]), '../../../../tmp/evil.png');
  evil.append('style', new Blob([await readFile(path.join(images, 'starry_night.jpg'))]), '/etc/passwd');
  evil.append('options', JSON.stringify(SMALL));
  const r = await submit(evil);
  assert.equal(r.status, 202);
  await readEvents(`${server.url}/api/jobs/${r.body.id as string}/events`);
  assert.ok(!existsSync('/tmp/evil.png'));
  const st = (await (await fetch(`${server.url}/api/jobs/${r.body.id as string}`)).json()) as { status: string };
  assert.equal(st.status, 'done');
});

test('unknown ids give 404; other hosts and origins 403; every answer carries the security headers and no CORS', async () => {
  const res = await fetch(`${server.url}/api/jobs/00000000-0000-4000-8000-000000000000`);
  assert.equal(res.status, 404);
  assert.match(((await res.json()) as { error: string }).error, /^no job 00000000-0000-4000-8000-000000000000: unknown/);
  assert.equal((await fetch(`${server.url}/api/jobs/00000000-0000-4000-8000-000000000000`, { method: 'DELETE' })).status, 404);
  assert.equal((await fetch(`${server.url}/api/jobs/00000000-0000-4000-8000-000000000000/image`)).status, 404);
  assert.equal((await fetch(`${server.url}/api/nothing`)).status, 404);
  const weights = await fetch(`${server.url}/api/weights`);
  assert.equal(weights.status, 404, 'an empty cache has no weights to offer');
  assert.match(((await weights.json()) as { error: string }).error, /no pretrained VGG weights in its cache: run 'impasto weights fetch'/);

  const http = await import('node:http');
  const foreign = await new Promise<number>((resolve) => http.get({ host: '127.0.0.1', port: server.port, path: '/api/options', headers: { host: 'evil.example:80' } }, (r) => { r.resume(); resolve(r.statusCode!); }));
  assert.equal(foreign, 403, 'a DNS-rebound Host is refused');
  const cross = await submit(await jobForm('tubingen.jpg', ['starry_night.jpg'], SMALL), { origin: 'http://evil.example' });
  assert.equal(cross.status, 403);
  assert.match(cross.body.error as string, /cross-origin/);

  const page = await fetch(`${server.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self' 'wasm-unsafe-eval'/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(page.headers.get('access-control-allow-origin'), null);
  const opts = (await (await fetch(`${server.url}/api/options`)).json()) as { options: { key: string; flag: string; choices?: string[] }[] };
  const keys = opts.options.map((o) => o.key);
  assert.ok(keys.includes('styleWeight') && keys.includes('size') && keys.includes('preset'));
  for (const k of ['weights', 'checkpoint', 'resume', 'contentMasks', 'styleMasks', 'threads', 'maxMemory']) assert.ok(!keys.includes(k), k);
  assert.deepEqual(opts.options.find((o) => o.key === 'init')!.choices, ['content', 'noise', 'style']);
  assert.equal(opts.options.find((o) => o.key === 'styleWeight')!.flag, '--style-weight');
});

test('20 concurrent submissions against a queue of 5: each answered 202 or 429, none hung; the server stays within its memory', async () => {
  // Wait until nothing runs, so that the count is exact: 1 starts, 5 wait, 14 are refused.
  const form = () => jobForm('tubingen.jpg', ['starry_night.jpg'], { ...SMALL, iterations: 100000 });
  const answers = await Promise.all(Array.from({ length: 20 }, async () => submit(await form())));
  const codes = answers.map((a) => a.status).sort();
  assert.deepEqual([...new Set(codes)], [202, 429], codes.join(','));
  assert.equal(codes.filter((c) => c === 202).length, 6, codes.join(','));
  for (const a of answers.filter((x) => x.status === 429)) assert.match(a.body.error as string, /the queue is full \(5 jobs waiting\)/);
  // The server answers while its queue is full and a job runs.
  const t0 = performance.now();
  assert.equal((await fetch(`${server.url}/api/options`)).status, 200);
  assert.ok(performance.now() - t0 < 1000, 'the API stays responsive while a job runs');
  for (const a of answers.filter((x) => x.status === 202)) await fetch(`${server.url}/api/jobs/${a.body.id as string}`, { method: 'DELETE' });
  for (const a of answers.filter((x) => x.status === 202)) {
    await waitFor(async () => ['cancelled', 'done'].includes(((await (await fetch(`${server.url}/api/jobs/${a.body.id as string}`)).json()) as { status: string }).status) || undefined, 'every job to end');
  }
  const peak = server.peakRss();
  process.stderr.write(`# impasto serve peak RSS over the API tests: ${(peak / 1e6).toFixed(0)} MB\n`);
  assert.ok(peak < 1.5e9, `peak RSS ${(peak / 1e6).toFixed(0)} MB`);
});
