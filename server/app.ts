/**
 * `impasto serve`: the local web app and its HTTP API (fastify).
 *
 *   POST   /api/jobs              multipart: content (file), style (file, repeatable), options (JSON) → 202 {id}
 *   GET    /api/jobs/:id          the job's status (jobs.ts JobStatus)
 *   GET    /api/jobs/:id/events   server-sent events: one JSON job event each
 *   GET    /api/jobs/:id/image    the current preview or the final image (PNG; ?download=1: as a file)
 *   DELETE /api/jobs/:id          cancels the job
 *   GET    /api/options           the options a request may set, from the one option table
 *   GET    /api/weights           the cached default VGG weights as safetensors (for the page's in-browser runs)
 *   GET    /                      the page (web/)
 *
 * Errors are JSON `{error, statusCode}`: 400 a bad image or option (the CLI's message), 404 an
 * unknown id or path, 409 an image asked for before the first preview, 411 an upload without a
 * Content-Length, 413 an upload over the limits, 429 a full queue (or too many uploads being
 * received), 403 a request from another origin or for another host.
 *
 * Safety: nothing from a request names a file (ids are checked UUIDs, the page's files are a fixed
 * set read at start, options that are paths are refused); the Host header must be this server's
 * (a DNS-rebinding page cannot reach it) and a request with an Origin header must come from it;
 * no CORS headers; a CSP that allows only this origin's scripts (and WebAssembly).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import sharp, { type Metadata } from 'sharp';
import { OptionError } from '../src/errors.js';
import { PRESETS } from '../src/losses/presets.js';
import { cacheDir, cachedDefaultSafetensors } from '../src/networks/weights/cache.js';
import { checkRemoteOptions, remoteOptionSchema, validateOptions, type StylizeOptions } from '../src/pipeline/options.js';
import { JOB_ID, QueueFullError, type EncodedImage, type JobQueue } from '../src/jobs/jobs.js';
import { DEFAULT_LIMITS, type ServerLimits } from './limits.js';

export { DEFAULT_LIMITS, type ServerLimits };


/** The page's files: a fixed set, read once at start; no request path reaches the filesystem. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** The browser bundle and onnxruntime-web's files for "Run on this device"; absent files: the page does not offer it. */
function deviceAssets(web: string): Map<string, { file: string; type: string }> {
  const out = new Map<string, { file: string; type: string }>();
  const bundle = path.join(web, '..', 'dist', 'web', 'device-worker.js');
  let ort: string;
  try {
    ort = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  } catch {
    return out; // onnxruntime-web is an optional peer dependency
  }
  if (!fs.existsSync(bundle) || !fs.existsSync(path.join(ort, 'ort.min.mjs'))) return out;
  out.set('/device-worker.js', { file: bundle, type: 'text/javascript; charset=utf-8' });
  out.set('/ort/ort.min.mjs', { file: path.join(ort, 'ort.min.mjs'), type: 'text/javascript; charset=utf-8' });
  for (const name of fs.readdirSync(ort)) {
    if (/^ort-wasm-simd-threaded(\.[a-z]+)?\.(mjs|wasm)$/.test(name)) {
      out.set(`/ort/${name}`, { file: path.join(ort, name), type: name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript; charset=utf-8' });
    }
  }
  return out;
}

function webDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.join(here, '..', 'web'), path.join(here, '..', '..', 'web')]) {
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new Error(`the page's files (web/index.html) are missing beside ${here}; reinstall impasto-nst`);
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; worker-src 'self' blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // Cross-origin isolation: lets the page use WebAssembly threads (SharedArrayBuffer).
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

/** An upload's name for messages: printable, at most 80 characters; never a path. */
function displayName(name: string | undefined): string {
  const clean = (name ?? '').replace(/[^\p{L}\p{N} ._()+-]/gu, '_').slice(0, 80);
  return clean || 'unnamed';
}

class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

/** Checks an upload's header: a supported image within the pixel limit. @throws HttpError 400 / 413 */
async function checkImage(img: EncodedImage, limits: ServerLimits): Promise<void> {
  let meta: Metadata;
  try {
    meta = await sharp(img.bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new HttpError(400, `cannot read ${img.name}: expected a JPEG, PNG, WebP, TIFF, GIF or AVIF file, but it is not a readable image (${String((err as Error).message).split('\n')[0]}); check that the upload is an image and not truncated`);
  }
  const w = meta.autoOrient?.width ?? meta.width ?? 0;
  const h = meta.autoOrient?.height ?? meta.height ?? 0;
  if (w * h > limits.maxPixels) {
    throw new HttpError(413, `${img.name} is ${w}×${h} px (${((w * h) / 1e6).toFixed(1)} Mpx); this server takes images up to ${(limits.maxPixels / 1e6).toFixed(0)} Mpx: downscale it first`);
  }
}

/** Server-side limits on the options (the output size). @throws HttpError 413 */
function checkSizeLimits(o: Partial<StylizeOptions>, limits: ServerLimits): void {
  for (const key of ['size', 'width', 'height', 'minSize'] as const) {
    const v = o[key];
    if (typeof v === 'number' && v > limits.maxSize) throw new HttpError(413, `${key} ${v} is over this server's limit of ${limits.maxSize} px`);
  }
  if (typeof o.area === 'number' && o.area > limits.maxSize ** 2) throw new HttpError(413, `area ${o.area} is over this server's limit of ${limits.maxSize ** 2} px (${limits.maxSize}²)`);
}

/** Reads a job's multipart form. @throws HttpError (400, 413) */
async function readJobForm(req: FastifyRequest, limits: ServerLimits): Promise<{ content: EncodedImage; styles: EncodedImage[]; options: Partial<StylizeOptions> }> {
  if (!req.isMultipart()) throw new HttpError(400, 'expected a multipart/form-data body with fields content (a file), style (a file, repeatable) and options (JSON)');
  let content: EncodedImage | undefined;
  const styles: EncodedImage[] = [];
  let optionsText: string | undefined;
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'content' && part.fieldname !== 'style') {
        part.file.resume();
        throw new HttpError(400, `unexpected file field '${displayName(part.fieldname)}': expected content or style`);
      }
      const bytes = await part.toBuffer(); // throws FST_REQ_FILE_TOO_LARGE (413) past the limit
      const img = { name: `${part.fieldname === 'content' ? 'content' : `style ${styles.length + 1}`} "${displayName(part.filename)}"`, bytes: new Uint8Array(bytes) };
      if (part.fieldname === 'content') {
        if (content) throw new HttpError(400, 'more than one content file: send one photo as content');
        content = img;
      } else {
        styles.push(img);
      }
    } else if (part.fieldname === 'options') {
      optionsText = String(part.value);
    } else {
      throw new HttpError(400, `unexpected field '${displayName(part.fieldname)}': expected content, style or options`);
    }
  }
  if (!content) throw new HttpError(400, 'missing content: add the photo as the file field content');
  if (!styles.length) throw new HttpError(400, 'missing style: add one or more paintings as file fields named style');
  let options: unknown = {};
  if (optionsText !== undefined && optionsText.trim() !== '') {
    try {
      options = JSON.parse(optionsText);
    } catch (err) {
      throw new HttpError(400, `invalid options: not JSON (${(err as Error).message})`);
    }
  }
  try {
    checkRemoteOptions(options);
    validateOptions(options);
  } catch (err) {
    if (err instanceof OptionError) throw new HttpError(400, err.message);
    throw err;
  }
  checkSizeLimits(options, limits);
  for (const img of [content, ...styles]) await checkImage(img, limits);
  return { content, styles, options };
}

export interface ServerOptions {
  readonly queue: JobQueue;
  readonly limits?: Partial<ServerLimits>;
  /** Host names (without port) the Host header may carry, besides localhost, 127.0.0.1 and [::1]. */
  readonly allowedHosts?: readonly string[];
}

/** Builds the app (not listening). */
export async function createApp(options: ServerOptions): Promise<FastifyInstance> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const { queue } = options;
  const hosts = new Set(['localhost', '127.0.0.1', '[::1]', ...(options.allowedHosts ?? [])]);
  const dir = webDir();
  const assets = new Map(Object.entries(ASSETS).map(([route, a]) => [route, { body: fs.readFileSync(path.join(dir, a.file)), type: a.type }]));

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, routerOptions: { maxParamLength: 100 } });
  await app.register(multipart, {
    limits: { fileSize: limits.maxUploadBytes, files: 1 + limits.maxStyles, fields: 2, fieldSize: 64 * 1024, parts: 2 + limits.maxStyles + 2, headerPairs: 100 },
  });

  app.addHook('onRequest', async (req, reply) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (!hosts.has(host)) return reply.code(403).send({ statusCode: 403, error: `this server answers requests for ${[...hosts].join(', ')} only, not '${displayName(host)}'` });
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      return reply.code(403).send({ statusCode: 403, error: 'cross-origin requests are refused' });
    }
  });
  // Uploads being received are held in memory: each request's declared length is reserved against
  // a budget, so that concurrent uploads cannot exhaust it (chunked bodies, whose length is not
  // known in advance, are refused).
  const maxRequest = (1 + limits.maxStyles) * limits.maxUploadBytes + 1024 * 1024;
  const uploadBudget = Math.max(maxRequest, 4 * limits.maxUploadBytes);
  let receiving = 0;
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST' || req.url.split('?')[0] !== '/api/jobs') return;
    const length = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(length) || length <= 0) return reply.code(411).send({ statusCode: 411, error: 'send the form with a Content-Length (chunked uploads are not accepted)' });
    if (length > maxRequest) return reply.code(413).send({ statusCode: 413, error: `the request is ${length} bytes, over this server's limit of ${maxRequest} (one content and at most ${limits.maxStyles} style images of ${(limits.maxUploadBytes / 1024 / 1024).toFixed(0)} MB)` });
    if (receiving + length > uploadBudget) return reply.code(429).header('retry-after', '5').send({ statusCode: 429, error: 'the server is receiving other uploads; try again in a few seconds' });
    receiving += length;
    let released = false;
    const release = () => { if (!released) { released = true; receiving -= length; } };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    return payload;
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err instanceof HttpError ? err.statusCode : err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    let message = err.message;
    if (err.code === 'FST_REQ_FILE_TOO_LARGE') message = `an upload is over this server's limit of ${(limits.maxUploadBytes / 1024 / 1024).toFixed(0)} MB a file`;
    else if (err.code === 'FST_FILES_LIMIT' || err.code === 'FST_PARTS_LIMIT') message = `too many files: one content and at most ${limits.maxStyles} style images`;
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `the request body is over the limit`;
    else if (status === 500) message = `internal error: ${err.message}`;
    void reply.code(status).send({ statusCode: status, error: message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ statusCode: 404, error: `no such route: ${req.method} ${displayName(req.url.split('?')[0])}` });
  });

  for (const [route, a] of assets) {
    app.get(route, async (_req, reply) => reply.type(a.type).header('cache-control', 'no-cache').send(a.body));
  }
  // Fixed files, streamed: the route table is built at start from a fixed list, not from requests.
  const device = deviceAssets(dir);
  for (const [route, a] of device) {
    app.get(route, async (_req, reply) => reply.type(a.type).header('cache-control', 'no-cache').send(fs.createReadStream(a.file)));
  }

  app.get('/api/options', async () => ({
    options: remoteOptionSchema(),
    presets: Object.values(PRESETS).map((p) => ({ name: p.name, summary: p.summary })),
    limits,
    /** Whether the page can run jobs in the browser (the bundle and onnxruntime-web are installed). */
    device: device.size > 0,
  }));

  // The cached default VGG weights, as safetensors, for "Run on this device" (the file is the
  // cache's own choice: nothing in the request names it).
  app.get('/api/weights', async (_req, reply) => {
    const file = await cachedDefaultSafetensors(cacheDir());
    if (!file) throw new HttpError(404, "this server has no pretrained VGG weights in its cache: run 'impasto weights fetch' (or 'impasto weights add FILE') where it runs, or pick a weight file on the page");
    const size = (await fs.promises.stat(file)).size;
    return reply.type('application/octet-stream').header('content-length', String(size)).header('cache-control', 'no-cache').send(fs.createReadStream(file));
  });

  const jobId = (req: FastifyRequest): string => {
    const id = (req.params as { id?: string }).id ?? '';
    if (!JOB_ID.test(id)) throw new HttpError(404, `no job '${displayName(id)}': job ids are UUIDs from POST /api/jobs`);
    return id;
  };
  const unknown = (id: string) => new HttpError(404, `no job ${id}: unknown, or finished and removed`);

  app.post('/api/jobs', async (req, reply) => {
    const input = await readJobForm(req, limits);
    try {
      const id = await queue.submit(input);
      return reply.code(202).header('location', `/api/jobs/${id}`).send({ id });
    } catch (err) {
      if (err instanceof QueueFullError) return reply.code(429).header('retry-after', '30').send({ statusCode: 429, error: err.message });
      throw err;
    }
  });

  app.get('/api/jobs/:id', async (req) => {
    const id = jobId(req);
    const s = queue.status(id);
    if (!s) throw unknown(id);
    return s;
  });

  app.delete('/api/jobs/:id', async (req, reply) => {
    const id = jobId(req);
    if (!queue.cancel(id)) throw unknown(id);
    return reply.code(202).send(queue.status(id));
  });

  app.get('/api/jobs/:id/image', async (req, reply) => {
    const id = jobId(req);
    if (!queue.status(id)) throw unknown(id);
    const img = await queue.image(id);
    if (!img) throw new HttpError(409, `job ${id} has no image yet: wait for its first preview event`);
    const q = req.query as { download?: string };
    reply.type(img.type).header('cache-control', 'no-store').header('x-impasto-iteration', String(img.iteration)).header('x-impasto-final', String(img.final));
    if (q.download === '1') reply.header('content-disposition', `attachment; filename="impasto-${id.slice(0, 8)}.png"`);
    return reply.send(Buffer.from(img.bytes.buffer, img.bytes.byteOffset, img.bytes.byteLength));
  });

  app.get('/api/jobs/:id/events', (req: FastifyRequest, reply: FastifyReply) => {
    const id = jobId(req);
    if (!queue.status(id)) throw unknown(id);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    let closed = false;
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe?.();
      res.end();
    };
    const unsubscribe = queue.subscribe(id, (e) => {
      if (closed) return;
      res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      if (e.type === 'status' && ['done', 'failed', 'cancelled'].includes((e as { job: { status: string } }).job.status)) setImmediate(close);
    });
    req.raw.on('close', close);
  });

  return app;
}
