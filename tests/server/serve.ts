/**
 * Test helpers: `impasto serve` as a child process (the real command, on a free loopback port,
 * with its own cache folder), and job submissions through the HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const images = path.join(root, 'tests/fixtures/images');

export interface Served {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly home: string;
  /** Everything the server wrote to stderr so far. */
  log(): string;
  /** The server's peak resident memory so far (VmHWM, bytes; its worker threads included). */
  peakRss(): number;
  stop(): Promise<number | null>;
}

/** Starts `impasto serve --port 0 …args` and waits for its "listening on" line; `home` is its cache folder (default: a new one, removed at stop). */
export async function startServe(args: string[] = [], home?: string): Promise<Served> {
  home ??= await mkdtemp(path.join(os.tmpdir(), 'impasto-serve-'));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/bin.ts'), 'serve', '--port', '0', ...args], {
    cwd: root, env: { ...process.env, IMPASTO_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => { err += String(d); });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`impasto serve did not start in 60 s:\n${err}`)), 60_000);
    child.stderr!.on('data', () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`impasto serve exited with ${code}:\n${err}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`, port, child, home,
    log: () => err,
    peakRss: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : NaN;
    },
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const code = await exited;
      await rm(home!, { recursive: true, force: true });
      return code;
    },
  };
}

/** A job's multipart form: `content` and `styles` are file names under tests/fixtures/images or byte arrays. */
export async function jobForm(content: string | Uint8Array, styles: (string | Uint8Array)[], options: unknown): Promise<FormData> {
  const form = new FormData();
  const blob = async (x: string | Uint8Array) => new Blob([(typeof x === 'string' ? await readFile(path.join(images, x)) : x) as Uint8Array<ArrayBuffer>]);
  form.append('content', await blob(content), typeof content === 'string' ? content : 'upload.bin');
  for (const s of styles) form.append('style', await blob(s), typeof s === 'string' ? s : 'upload.bin');
  form.append('options', typeof options === 'string' ? options : JSON.stringify(options));
  return form;
}

/** One server-sent event. */
export interface Sse {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Reads a job's event stream until it ends (the server closes it after the final status) or `stop` says so. */
export async function readEvents(url: string, onEvent?: (e: Sse) => boolean | void, timeoutMs = 120_000): Promise<Sse[]> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const res = await fetch(url, { signal: ctl.signal });
  if (res.status !== 200) throw new Error(`events: HTTP ${res.status} ${await res.text()}`);
  const out: Sse[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || !data) continue;
        const e = { event, data: JSON.parse(data) as Record<string, unknown> };
        out.push(e);
        if (onEvent?.(e)) {
          ctl.abort();
          return out;
        }
      }
    }
  } catch (err) {
    if (!ctl.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  return out;
}
