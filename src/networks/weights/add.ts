/**
 * `weights add`: a weight file downloaded elsewhere (another machine, a browser, a mirror) goes
 * into the cache and becomes the default network.
 *
 * The file is copied into the cache and hashed in one pass (temp file in models/, then rename):
 * - if its MD5 or SHA-256 matches a published file of the architecture (WEIGHT_SOURCES), it is
 *   stored under that file's name, as `weights fetch` would store it;
 * - else, if the caller vouches for it with `sha256`, the hash must match, the file must load as a
 *   VGG of that architecture (every loader's checks apply), and it is stored as
 *   `models/sha256-<hex>.weights`, named by its checksum;
 * - else it is refused, and nothing is left in the cache.
 * Either way `default.json` in the cache root then names it, and `cachedDefault` (cache.ts) uses
 * it first, re-checking its size and hash as it does for fetched files.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { cacheDir, ensureCache, WEIGHT_SOURCES, WeightsCacheError, type WeightSource } from './cache.js';
import { loadWeightsFile } from './load.js';
import { MAX_WEIGHT_FILE_BYTES } from './limits.js';
import { OptionError } from '../../errors.js';

/** What `addWeights` stored. */
export interface AddedWeights {
  /** The file's path in the cache. */
  readonly path: string;
  /** The published file it matched, or null for a file vouched for by `sha256`. */
  readonly source: WeightSource | null;
  readonly sha256: string;
  readonly md5: string;
}

/** The cache's pointer to the default file (`<root>/default.json`). */
export interface DefaultPointer {
  /** File name in models/ (no folder part). */
  readonly file: string;
  /** `md5:<hex>` or `sha256:<hex>`. */
  readonly hash: string;
  readonly bytes: number;
  readonly arch: 'vgg19' | 'vgg16';
}

/** Path of the default pointer. */
export function defaultPointerPath(root = cacheDir()): string {
  return path.join(root, 'default.json');
}

/**
 * Copies `file` into the cache and makes it the default.
 * @param options.arch the architecture the file must be (default vgg19)
 * @param options.sha256 the expected SHA-256 (64 hex digits) of a file that is not a published one
 * @param options.sources the published files to match against (default WEIGHT_SOURCES)
 * @throws OptionError for a bad argument; WeightsCacheError (exit 3) for a file that matches no
 *         published hash (and no `sha256`), a hash mismatch, or an unwritable cache;
 *         WeightFormatError (exit 3) for a vouched file that is not a VGG of `arch`.
 */
export async function addWeights(file: string, options: { arch?: 'vgg19' | 'vgg16'; sha256?: string; root?: string; sources?: readonly WeightSource[] } = {}): Promise<AddedWeights> {
  const arch = options.arch ?? 'vgg19';
  if (arch !== 'vgg19' && arch !== 'vgg16') throw new OptionError(`invalid name: expected vgg19 or vgg16, received '${String(arch)}'`);
  if (typeof file !== 'string' || file === '') throw new OptionError('weights add expects a file name');
  if (options.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(options.sha256)) {
    throw new OptionError(`invalid --sha256: expected 64 hexadecimal digits, received '${options.sha256}'`);
  }
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new WeightsCacheError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}; give the path of the downloaded weight file`);
  });
  if (!info.isFile()) throw new WeightsCacheError(`cannot add ${file}: it is not a regular file; give the path of the downloaded weight file`);
  if (info.size > MAX_WEIGHT_FILE_BYTES) {
    throw new WeightsCacheError(`cannot add ${file}: ${info.size} bytes, more than the ${MAX_WEIGHT_FILE_BYTES} bytes of the largest VGG file Impasto reads; it is not a VGG-16/19 weight file`);
  }

  const root = await ensureCache(options.root ?? cacheDir());
  const temp = path.join(root, 'models', `.add-${process.pid}-${Date.now()}.tmp`);
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let copied = 0;
  try {
    await pipeline(
      createReadStream(file, { highWaterMark: 1 << 22 }),
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          copied += chunk.length;
          if (copied > info.size) return done(new WeightsCacheError(`${file} grew while it was being copied; add it again once it is complete`));
          sha.update(chunk);
          md5.update(chunk);
          done(null, chunk);
        },
      }),
      createWriteStream(temp, { flags: 'wx' }),
    );
    const hex = { sha256: sha.digest('hex'), md5: md5.digest('hex') };
    const matches = (s: WeightSource) => {
      if (!s.hash || s.bytes !== undefined && s.bytes !== copied) return false;
      const [algo, want] = s.hash.split(':') as ['md5' | 'sha256', string];
      const [pre, post] = want.split('…');
      const got = hex[algo];
      return post === undefined ? got === want : got.startsWith(pre!) && got.endsWith(post);
    };
    const sources = options.sources ?? WEIGHT_SOURCES;
    const source = sources.find((s) => s.arch === arch && matches(s)) ?? null;
    let name: string;
    let hash: string;
    if (source) {
      name = source.file;
      hash = source.hash!.includes('…') ? `sha256:${hex.sha256}` : source.hash!;
    } else if (options.sha256) {
      if (options.sha256.toLowerCase() !== hex.sha256) {
        throw new WeightsCacheError(`${file} does not match the SHA-256 given: expected ${options.sha256.toLowerCase()}, found ${hex.sha256}; the file is damaged or not the one meant`);
      }
      await loadWeightsFile(temp).then((w) => {
        if (w.arch !== arch) throw new WeightsCacheError(`${file} holds ${w.arch} weights, not ${arch}; add it with --name ${w.arch}`);
      }, (err: Error) => {
        err.message = err.message.split(temp).join(file);
        throw err;
      });
      name = `sha256-${hex.sha256}.weights`;
      hash = `sha256:${hex.sha256}`;
    } else {
      throw new WeightsCacheError(
        `${file} (${copied} bytes, sha256 ${hex.sha256}) matches no published ${arch} file (${sources.filter((s) => s.arch === arch && s.hash).map((s) => s.file).join(', ')}); `
        + 'if you trust it, add it with --sha256 <its SHA-256> and it will be checked to load as a VGG',
      );
    }
    const target = path.join(root, 'models', name);
    await rename(temp, target);
    const pointer: DefaultPointer = { file: name, hash, bytes: copied, arch };
    const pointerTemp = `${defaultPointerPath(root)}.${process.pid}.tmp`;
    await writeFile(pointerTemp, JSON.stringify(pointer));
    await rename(pointerTemp, defaultPointerPath(root));
    return { path: target, source, sha256: hex.sha256, md5: hex.md5 };
  } finally {
    await rm(temp, { force: true });
  }
}
