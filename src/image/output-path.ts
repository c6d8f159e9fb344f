/**
 * Output names, checked before any work: the format a name implies, and whether its folder can
 * be written. No image library here, so the CLI can check its output before it loads one.
 */
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { ImageError } from '../errors.js';

export { ImageError };

const FORMATS: Record<string, 'png' | 'jpeg' | 'webp' | 'tiff'> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp', '.tif': 'tiff', '.tiff': 'tiff' };

/** Output format implied by a file name. @throws ImageError for an unknown extension. */
export function formatOf(file: string): 'png' | 'jpeg' | 'webp' | 'tiff' {
  const fmt = FORMATS[path.extname(file).toLowerCase()];
  if (!fmt) throw new ImageError(`cannot write ${file}: expected an output name ending in .png, .jpg, .jpeg, .webp or .tif, received '${path.extname(file) || 'no extension'}'`);
  return fmt;
}

/**
 * Checks, before any work, that `file` can be written: a known format, an existing writable
 * directory, and not itself a directory. (A full disk is still found only when writing.)
 * @throws ImageError saying what is wrong and what to do.
 */
export async function checkOutputPath(file: string): Promise<void> {
  formatOf(file);
  const dir = path.dirname(path.resolve(file));
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat) throw new ImageError(`cannot write ${file}: the directory ${dir} does not exist; create it or choose another output`);
  if (!dirStat.isDirectory()) throw new ImageError(`cannot write ${file}: ${dir} is not a directory`);
  const own = await stat(file).catch(() => null);
  if (own?.isDirectory()) throw new ImageError(`cannot write ${file}: it is a directory; give a file name such as ${path.join(file, 'out.png')}`);
  try {
    await access(dir, fsConstants.W_OK);
  } catch {
    throw new ImageError(`cannot write ${file}: the directory ${dir} is not writable (read-only file system or no permission); choose another output`);
  }
}

