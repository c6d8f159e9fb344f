/**
 * `impasto weights fetch|list|verify`: the weight cache from the command line.
 *
 *   impasto weights fetch [vgg19|vgg16] [--source keras|torchvision|timm|caffe|onnx] [--url U --sha256 H | --md5 H] [--timeout S]
 *   impasto weights list      what is cached, what can be fetched, sizes, licences, attribution
 *   impasto weights verify    re-checks every cached file against its checksum
 *   impasto weights add FILE [--name vgg19|vgg16] [--sha256 H]
 *                             a file downloaded elsewhere, checked against the published hashes
 *                             (or H), copied into the cache and made the default (add.ts)
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir, checkHash, findSource, modelPath, WEIGHT_SOURCES } from '../src/networks/weights/cache.js';
import { fetchWeights } from '../src/networks/weights/fetch.js';
import { addWeights } from '../src/networks/weights/add.js';
import { OptionError } from '../src/pipeline/options.js';
import { EXIT_CODES } from '../src/errors.js';
import { parseArgs } from './args.js';
import { WEIGHTS_FLAGS } from './weights-flags.js';
import { Progress } from './progress.js';

function mb(n: number | undefined): string {
  return n === undefined ? '?' : `${(n / 1e6).toFixed(1)} MB`;
}


export async function runWeights(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { positionals, flags: parsed } = parseArgs(rest, WEIGHTS_FLAGS, false);
  const flags = parsed as { source?: string; url?: string; sha256?: string; md5?: string; timeout?: number };
  const root = cacheDir();
  if (sub === 'fetch') {
    const arch = positionals[0] ?? 'vgg19';
    if (arch !== 'vgg19' && arch !== 'vgg16') throw new OptionError(`impasto weights fetch expects vgg19 or vgg16, received '${arch}'`);
    if (flags.url !== undefined) {
      let u: URL;
      try {
        u = new URL(flags.url);
      } catch {
        throw new OptionError(`invalid --url: expected an https:// or http:// URL, received '${flags.url}'`);
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new OptionError(`invalid --url: only https: and http: URLs are fetched, received ${u.protocol} (a file on disk goes to --weights)`);
    }
    const known = flags.url ? null : findSource(arch, flags.source ?? 'keras');
    if (flags.url && flags.sha256 === undefined && flags.md5 === undefined) throw new OptionError('--url needs --sha256 (or --md5) so the download can be verified');
    for (const [algo, hexLength] of [['sha256', 64], ['md5', 32]] as const) {
      const v = flags[algo];
      if (v !== undefined && !new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(v)) {
        throw new OptionError(`invalid --${algo}: expected ${hexLength} hexadecimal digits, received '${v}'`);
      }
    }
    const hash = flags.sha256 ? `sha256:${flags.sha256.toLowerCase()}` : flags.md5 ? `md5:${flags.md5.toLowerCase()}` : known?.hash;
    // A mirror's file is named by its checksum, never by the URL's path: a name taken from the URL
    // (e.g. '..%2F..%2Fescaped.bin') could point outside the cache, or shadow a published file.
    const file = known?.file ?? `${hash!.replace(':', '-')}.weights`;
    const bar = new Progress(process.stderr, { enabled: true, format: (done, total) => `${mb(done)}${total ? ` / ${mb(total)}` : ''}` });
    bar.start(null, `fetching ${file}`);
    const target = await fetchWeights({
      file, url: flags.url ?? known!.url, hash, bytes: flags.url ? undefined : known!.bytes, root,
      stallMs: flags.timeout !== undefined ? flags.timeout * 1000 : undefined,
      onProgress: (p) => {
        bar.total = p.total;
        bar.update(p.received, `at ${(p.rate / 1e6).toFixed(1)} MB/s`);
      },
      onNotice: (m) => process.stderr.write(`note: ${m}\n`),
    });
    bar.finish();
    process.stdout.write(`${target}\n`);
    if (known?.attribution) process.stderr.write(`These weights are ${known.licence}. Credit: ${known.attribution}.\n`);
    return EXIT_CODES.ok;
  }
  if (sub === 'add') {
    if (positionals.length !== 1) throw new OptionError(`impasto weights add expects one file, received ${positionals.length}; usage: impasto weights add FILE [--name vgg19|vgg16] [--sha256 H]`);
    const arch = (flags as { name?: string }).name ?? 'vgg19';
    if (arch !== 'vgg19' && arch !== 'vgg16') throw new OptionError(`invalid --name: expected vgg19 or vgg16, received '${arch}'`);
    process.stderr.write(`checking and copying ${positionals[0]} into ${root}…\n`);
    const added = await addWeights(positionals[0]!, { arch, sha256: flags.sha256, root });
    process.stdout.write(`${added.path}\n`);
    process.stderr.write(`${added.source ? `matches the published ${added.source.file} (${added.source.hash})` : `sha256 ${added.sha256}, as given; loads as ${arch}`}; it is now the default network\n`);
    if (added.source?.attribution) process.stderr.write(`These weights are ${added.source.licence}. Credit: ${added.source.attribution}.\n`);
    return EXIT_CODES.ok;
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
    return EXIT_CODES.ok;
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
    return bad ? EXIT_CODES.input : EXIT_CODES.ok;
  }
  throw new OptionError(`expected 'impasto weights fetch', 'add', 'list' or 'verify', received '${sub ?? ''}'`);
}
