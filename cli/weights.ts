/**
 * `impasto weights fetch|list|verify`: the weight cache from the command line.
 *
 *   impasto weights fetch [vgg19|vgg16] [--source keras|torchvision|timm|caffe|onnx] [--url U --sha256 H]
 *   impasto weights list      what is cached, what can be fetched, sizes, licences, attribution
 *   impasto weights verify    re-checks every cached file against its checksum
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir, checkHash, findSource, modelPath, WEIGHT_SOURCES } from '../src/networks/weights/cache.js';
import { fetchWeights } from '../src/networks/weights/fetch.js';
import { OptionError } from '../src/pipeline/options.js';

function mb(n: number | undefined): string {
  return n === undefined ? '?' : `${(n / 1e6).toFixed(1)} MB`;
}

function parse(argv: string[]): { positionals: string[]; flags: Record<string, string> } {
  const positionals: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const [k, v] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), argv[++i]];
    if (!['source', 'url', 'sha256', 'md5', 'timeout'].includes(k!)) throw new OptionError(`unknown flag '--${k}' for 'impasto weights'; expected --source, --url, --sha256, --md5 or --timeout`);
    if (v === undefined) throw new OptionError(`flag --${k} expects a value, received none`);
    flags[k!] = v;
  }
  return { positionals, flags };
}

/** A byte progress bar on stderr when it is a terminal. */
function byteProgress(label: string) {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update(received: number, total: number | null, rate: number) {
      if (!tty || Date.now() - last < 100) return;
      last = Date.now();
      const frac = total ? received / total : 0;
      const bar = total ? `${'█'.repeat(Math.round(frac * 24))}${'░'.repeat(24 - Math.round(frac * 24))} ` : '';
      const eta = total && rate > 0 ? `, ETA ${Math.round((total - received) / rate)} s` : '';
      process.stderr.write(`\r${label} ${bar}${mb(received)}${total ? ` / ${mb(total)}` : ''} at ${(rate / 1e6).toFixed(1)} MB/s${eta}\x1b[K`);
    },
    done() {
      if (tty && last) process.stderr.write('\n');
    },
  };
}

export async function runWeights(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { positionals, flags } = parse(rest);
  const root = cacheDir();
  if (sub === 'fetch') {
    const arch = positionals[0] ?? 'vgg19';
    if (arch !== 'vgg19' && arch !== 'vgg16') throw new OptionError(`impasto weights fetch expects vgg19 or vgg16, received '${arch}'`);
    const known = flags.url ? null : findSource(arch, flags.source ?? 'keras');
    if (flags.url && !flags.sha256 && !flags.md5) throw new OptionError('--url needs --sha256 (or --md5) so the download can be verified');
    const file = known?.file ?? decodeURIComponent(path.basename(new URL(flags.url!).pathname)) ?? 'weights.bin';
    const hash = flags.sha256 ? `sha256:${flags.sha256}` : flags.md5 ? `md5:${flags.md5}` : known?.hash;
    const bar = byteProgress(`fetching ${file}`);
    const target = await fetchWeights({
      file, url: flags.url ?? known!.url, hash, bytes: flags.url ? undefined : known!.bytes, root,
      stallMs: flags.timeout ? Number(flags.timeout) * 1000 : undefined,
      onProgress: (p) => bar.update(p.received, p.total, p.rate),
      onNotice: (m) => process.stderr.write(`note: ${m}\n`),
    });
    bar.done();
    process.stdout.write(`${target}\n`);
    if (known?.attribution) process.stderr.write(`These weights are ${known.licence}. Credit: ${known.attribution}.\n`);
    return 0;
  }
  if (sub === 'list') {
    process.stdout.write(`cache: ${root}\n\n`);
    for (const s of WEIGHT_SOURCES) {
      let cached = '';
      try {
        cached = `cached (${mb((await stat(modelPath(s, root))).size)})`;
      } catch {
        cached = 'not cached';
      }
      process.stdout.write(`${s.arch} --source ${s.source.padEnd(12)} ${mb(s.bytes).padStart(9)}  ${cached.padEnd(22)} ${s.licence}\n`);
    }
    const converted = await readdir(path.join(root, 'converted')).catch(() => []);
    if (converted.length) process.stdout.write(`\nconverted copies: ${converted.join(', ')}\n`);
    process.stdout.write(`\nThe Oxford weights (keras, caffe) are CC BY 4.0; credit: ${WEIGHT_SOURCES[0]!.attribution}.\n`);
    return 0;
  }
  if (sub === 'verify') {
    let bad = 0;
    let seen = 0;
    for (const s of WEIGHT_SOURCES) {
      const p = modelPath(s, root);
      try {
        await stat(p);
      } catch {
        continue;
      }
      seen++;
      if (!s.hash) {
        process.stdout.write(`${s.file}: no published checksum; not verified\n`);
        continue;
      }
      const { ok, actual } = await checkHash(p, s.hash);
      process.stdout.write(`${s.file}: ${ok ? 'ok' : `MISMATCH (expected ${s.hash}, found ${actual}); delete it and fetch again`}\n`);
      if (!ok) bad++;
    }
    if (!seen) process.stdout.write(`nothing cached in ${root}\n`);
    return bad ? 3 : 0;
  }
  throw new OptionError(`expected 'impasto weights fetch', 'impasto weights list' or 'impasto weights verify', received '${sub ?? ''}'`);
}
