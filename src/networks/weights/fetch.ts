/**
 * Downloading a weight file into the cache, the way a careful user would do it by hand:
 *
 * 0. Only https: and http: URLs, and at most 5 redirects, each to https: or http:.
 * 1. Take the per-file lock (`locks/<file>.lock`, created exclusively, holding JSON {tool, pid,
 *    started}). If another live Impasto process holds it (same pid and same start time, so a reused
 *    pid does not count), wait for it and use its result; a lock of a dead process, of another
 *    program, or left empty for over 5 s (a full disk) is removed. A failed write never leaves an
 *    empty lock.
 * 2. Download to `downloads/<file>.part`, resuming an existing part with `Range: bytes=N-` (a server
 *    that answers 200 instead of 206 restarts it). A connection that breaks is resumed up to
 *    `retries` times; a connection silent for `stallMs` is abandoned with an error (the part stays,
 *    to be resumed by the next attempt). The body may not exceed the expected size (the table's,
 *    else 1.25 GiB): a longer one, announced or not, is stopped and nothing is cached.
 * 3. Check the size and the md5/sha256 from the table (or `--sha256`). On a mismatch the part is
 *    deleted and nothing enters the cache.
 * 4. Rename the part into `models/` (atomic on one file system) and release the lock.
 *
 * Proxies: `HTTPS_PROXY`/`https_proxy` for https URLs (CONNECT tunnel) and `HTTP_PROXY`/`http_proxy`
 * for http URLs (absolute-URI requests), except hosts listed in `NO_PROXY`.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat, writeFile, readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { cacheDir, cacheWriteError, checkHash, ensureCache, WeightsCacheError } from './cache.js';
import { MAX_WEIGHT_FILE_BYTES } from './limits.js';

/** Progress of a download: bytes so far (including a resumed part) and the total when known. */
export interface FetchProgress {
  readonly received: number;
  readonly total: number | null;
  /** Bytes per second over the download so far (this attempt). */
  readonly rate: number;
}

export interface FetchOptions {
  /** File name in the cache. */
  file: string;
  url: string;
  /** `md5:<hex>` or `sha256:<hex>`; without one the file is cached unverified (and said so). */
  hash?: string;
  bytes?: number;
  root?: string;
  onProgress?: (p: FetchProgress) => void;
  /** Notices such as "waiting for another process". */
  onNotice?: (m: string) => void;
  /** Abandon a connection that sends nothing for this long (default 30 s). */
  stallMs?: number;
  /** Resumes after a broken connection (default 3). */
  retries?: number;
  env?: NodeJS.ProcessEnv;
}

function proxyFor(url: URL, env: NodeJS.ProcessEnv): URL | null {
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (noProxy.some((h) => h === '*' || url.hostname === h || url.hostname.endsWith(h.startsWith('.') ? h : `.${h}`))) return null;
  const p = url.protocol === 'https:' ? env.HTTPS_PROXY ?? env.https_proxy : env.HTTP_PROXY ?? env.http_proxy;
  return p ? new URL(p) : null;
}

/** Opens a CONNECT tunnel through an HTTP proxy and wraps it in TLS for `target`. */
function tunnel(proxy: URL, target: URL): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: `${target.hostname}:${target.port || 443}` });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new WeightsCacheError(`the proxy ${proxy.host} refused the tunnel to ${target.host}: HTTP ${res.statusCode}`));
        return;
      }
      resolve(tls.connect({ socket, servername: target.hostname }));
    });
    req.once('error', (e) => reject(new WeightsCacheError(`cannot reach the proxy ${proxy.host}: ${e.message}`)));
    req.end();
  });
}

/** One GET with optional Range; resolves with the response (redirects followed). */
/** Redirects followed before a download is given up. */
export const MAX_REDIRECTS = 5;

async function get(url: URL, headers: Record<string, string>, env: NodeJS.ProcessEnv, redirects = MAX_REDIRECTS): Promise<http.IncomingMessage> {
  const proxy = proxyFor(url, env);
  const options: https.RequestOptions = { method: 'GET', headers: { 'user-agent': 'impasto', ...headers } };
  let req: http.ClientRequest;
  if (proxy && url.protocol === 'https:') {
    const socket = await tunnel(proxy, url);
    req = https.request(url, { ...options, createConnection: () => socket });
  } else if (proxy) {
    req = http.request({ ...options, host: proxy.hostname, port: proxy.port || 80, path: url.href, headers: { ...options.headers, host: url.host } });
  } else {
    req = (url.protocol === 'https:' ? https : http).request(url, options);
  }
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' || e.code === 'ECONNREFUSED'
        ? '; check the network or proxy (HTTPS_PROXY), or download the file elsewhere and pass it with --weights'
        : '';
      reject(new WeightsCacheError(`cannot download ${url.href}: ${e.message}${hint}`));
    });
    req.end();
  });
  if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
    res.resume();
    if (redirects === 0) throw new WeightsCacheError(`download of ${url.href} was redirected more than ${MAX_REDIRECTS} times (the last to ${res.headers.location}); the server loops or the URL is wrong`);
    const next = new URL(res.headers.location, url);
    if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new WeightsCacheError(`download of ${url.href} was redirected to ${next.href}; only https: and http: are followed`);
    res.resume();
    return get(next, headers, env, redirects - 1);
  }
  return res;
}

/** Downloads (appending to) `part`; resolves when the response ends, rejects on a stall or break. */
async function downloadOnce(opts: FetchOptions, part: string, env: NodeJS.ProcessEnv): Promise<void> {
  let have = 0;
  try {
    have = (await stat(part)).size;
  } catch {
    have = 0;
  }
  const url = new URL(opts.url);
  const res = await get(url, have > 0 ? { range: `bytes=${have}-` } : {}, env);
  if (res.statusCode === 416 && have > 0) {
    res.resume();
    return; // the part is already complete
  }
  if (res.statusCode !== 200 && res.statusCode !== 206) {
    res.resume();
    throw new WeightsCacheError(`download of ${url.href} failed: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim() + '; check the URL (--url) or try another --source');
  }
  const append = res.statusCode === 206;
  if (!append) have = 0;
  const length = Number(res.headers['content-length'] ?? NaN);
  const total = Number.isFinite(length) ? have + length : opts.bytes ?? null;
  // The body may not exceed the expected size (the table's, else the largest weight file read).
  const cap = opts.bytes ?? MAX_WEIGHT_FILE_BYTES;
  if (total !== null && total > cap) {
    res.destroy();
    throw new WeightsCacheError(`download of ${url.href} announces ${total} bytes, more than the ${cap} expected; nothing was kept. Check the URL`);
  }
  const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
  const stallMs = opts.stallMs ?? 30_000;
  const started = Date.now();
  let received = have;
  await new Promise<void>((resolve, reject) => {
    let stalled = false;
    let oversized = false;
    const stall = () => {
      stalled = true;
      res.destroy();
    };
    let timer = setTimeout(stall, stallMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      out.end(() => reject(stalled ? new Error('stalled') : oversized ? new Error('oversized') : e));
    };
    res.on('data', (chunk: Buffer) => {
      clearTimeout(timer);
      timer = setTimeout(stall, stallMs);
      received += chunk.length;
      if (received > cap) {
        oversized = true;
        res.destroy();
        return;
      }
      if (!out.write(chunk)) {
        res.pause();
        out.once('drain', () => res.resume());
      }
      opts.onProgress?.({ received, total, rate: (received - have) / Math.max(1e-3, (Date.now() - started) / 1000) });
    });
    res.on('end', () => {
      clearTimeout(timer);
      if (!res.complete) return fail(new Error('connection closed early'));
      out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    res.on('error', (e) => fail(e));
    res.on('aborted', () => fail(new Error('connection closed early')));
    out.on('error', (e) => {
      clearTimeout(timer);
      res.destroy();
      reject(e);
    });
  }).catch((e: NodeJS.ErrnoException) => {
    if (e.code) throw e; // a file-system error: reported by the caller
    if (e.message === 'oversized') throw new WeightsCacheError(`download of ${url.href} sent more than the ${cap} bytes expected; it was stopped and nothing was cached. Check the URL`);
    if (e.message === 'stalled') throw new WeightsCacheError(`download of ${url.href} stalled: no data for ${stallMs / 1000} s at ${received} bytes; the partial file is kept and the next 'impasto weights fetch' resumes it`);
    throw new WeightsCacheError(`download of ${url.href} broke off at ${received} bytes (${e.message})`);
  });
  if (total !== null && received < total) throw new WeightsCacheError(`download of ${url.href} ended at ${received} of ${total} bytes`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or null off Linux. */
async function startTime(pid: number): Promise<string | null> {
  const stat_ = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!stat_) return null;
  // Fields after the parenthesised command name, which may itself hold spaces or parentheses.
  return stat_.slice(stat_.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

/** What a lock file holds: which process, identified by pid and start time, took it for Impasto. */
interface LockOwner {
  readonly tool: 'impasto';
  readonly pid: number;
  readonly started: string | null;
}

/** An empty or unparsable lock younger than this may be one being written; older, it is stale. */
const HALF_WRITTEN_LOCK_MS = 5000;

/**
 * Whether a lock file's owner still holds it: an Impasto lock of a live process whose start time
 * matches (so a reused pid does not count). Empty or foreign contents count as stale once older
 * than {@link HALF_WRITTEN_LOCK_MS}.
 */
async function lockHeld(lockFile: string): Promise<{ held: boolean; pid: number | null }> {
  const text = await readFile(lockFile, 'utf8').catch(() => null);
  if (text === null) return { held: false, pid: null };
  let owner: LockOwner | null = null;
  try {
    const o = JSON.parse(text) as LockOwner;
    if (o && o.tool === 'impasto' && Number.isInteger(o.pid) && o.pid > 0) owner = o;
  } catch {
    owner = null;
  }
  if (!owner) {
    const age = Date.now() - ((await stat(lockFile).catch(() => null))?.mtimeMs ?? 0);
    return { held: age < HALF_WRITTEN_LOCK_MS, pid: null };
  }
  if (!alive(owner.pid)) return { held: false, pid: owner.pid };
  const started = await startTime(owner.pid);
  return { held: started === null || owner.started === null || started === owner.started, pid: owner.pid };
}

/** Takes the file's lock, or waits for the process holding it. Returns false if another process finished the file. */
async function lock(lockFile: string, target: string, notice: (m: string) => void): Promise<boolean> {
  let told = false;
  const me: LockOwner = { tool: 'impasto', pid: process.pid, started: await startTime(process.pid) };
  for (;;) {
    try {
      const fh = await open(lockFile, 'wx');
      try {
        await fh.writeFile(JSON.stringify(me));
      } catch (err) {
        await fh.close();
        await rm(lockFile, { force: true }); // never leave an empty lock behind (a full disk)
        throw err;
      }
      await fh.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const { held, pid } = await lockHeld(lockFile);
    if (!held) {
      await rm(lockFile, { force: true }); // left by a process that died, or not an Impasto lock
      continue;
    }
    if (!told) {
      notice(`another process (pid ${pid ?? '?'}) is downloading ${path.basename(target)}; waiting for it`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 100));
    try {
      await stat(lockFile);
    } catch {
      try {
        await stat(target);
        return false; // the other process finished it
      } catch {
        // it failed: try to take the lock ourselves
      }
    }
  }
}

/**
 * Fetches a file into the cache (see the file header).
 * @returns the verified file's path in `models/`.
 * @throws WeightsCacheError for HTTP errors, stalls, checksum mismatches and unwritable caches.
 */
export async function fetchWeights(opts: FetchOptions): Promise<string> {
  const env = opts.env ?? process.env;
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new WeightsCacheError(`cannot download '${opts.url}': it is not a URL; expected https://… or http://…`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WeightsCacheError(`cannot download ${url.href}: only https: and http: URLs are fetched, received ${url.protocol}; for a file on disk, pass it with --weights`);
  }
  if (!/^[\w.-]+$/.test(opts.file) || opts.file.startsWith('.')) throw new WeightsCacheError(`invalid cache file name '${opts.file}'`);
  const root = await ensureCache(opts.root ?? cacheDir(env));
  const target = path.join(root, 'models', opts.file);
  try {
    await stat(target);
    return target; // already cached
  } catch {
    // not yet
  }
  const lockFile = path.join(root, 'locks', `${opts.file}.lock`);
  const part = path.join(root, 'downloads', `${opts.file}.part`);
  let mine: boolean;
  try {
    mine = await lock(lockFile, target, opts.onNotice ?? (() => {}));
  } catch (err) {
    throw cacheWriteError(root, err);
  }
  if (!mine) return target;
  try {
    const retries = opts.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        await downloadOnce(opts, part, env);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code) {
          await rm(part, { force: true }); // a full or failing disk: free what was written
          throw cacheWriteError(root, err);
        }
        const msg = (err as Error).message;
        // Retry only a transfer that broke off; a refused, unresolvable or HTTP-error request is final.
        if (attempt >= retries || !/broke off|ended at/.test(msg)) throw err;
        opts.onNotice?.(`${msg}; resuming (attempt ${attempt + 2} of ${retries + 1})`);
      }
    }
    const size = (await stat(part)).size;
    if (opts.bytes !== undefined && size !== opts.bytes) {
      await rm(part, { force: true });
      throw new WeightsCacheError(`downloaded ${size} bytes from ${opts.url} but ${opts.file} has ${opts.bytes}; nothing was cached. Try again or use another --source`);
    }
    if (opts.hash) {
      const { ok, actual } = await checkHash(part, opts.hash);
      if (!ok) {
        await rm(part, { force: true });
        throw new WeightsCacheError(`checksum mismatch for ${opts.file}: expected ${opts.hash}, received ${actual}; the download is corrupt or the mirror serves another file. Nothing was cached`);
      }
    } else {
      opts.onNotice?.(`${opts.file} has no published checksum; cached without verification (pass --sha256 to check it)`);
    }
    try {
      await rename(part, target);
    } catch (err) {
      throw cacheWriteError(root, err);
    }
    await writeFile(`${target}.source`, `${opts.url}\n${opts.hash ?? 'unverified'}\n`).catch(() => {});
    return target;
  } finally {
    await rm(lockFile, { force: true });
  }
}
