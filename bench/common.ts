/**
 * What every benchmark shares: its `--name value` arguments, the out/ folder, and contact sheets.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp, { type OverlayOptions } from 'sharp';
import type { RgbImage } from '../src/image/io-node.js';

/** The command line after the script. */
export const args = process.argv.slice(2);

/** The value after `--name`, else `def`. */
export function opt(name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
}

/** The repository's out/ folder (git-ignored), created. */
export const outDir = fileURLToPath(new URL('../out/', import.meta.url));
await mkdir(outDir, { recursive: true });

/** The committed test images. */
export const images = fileURLToPath(new URL('../tests/fixtures/images/', import.meta.url));

/** Writes a PNG grid: one row per entry of `rows`, each image fitted into a `tile`-px square, 4-px white gaps. */
export async function contactSheet(file: string, rows: readonly (readonly RgbImage[])[], tile: number): Promise<void> {
  const cols = Math.max(...rows.map((r) => r.length));
  const composites: OverlayOptions[] = [];
  for (const [r, row] of rows.entries()) {
    for (const [c, img] of row.entries()) {
      const buf = await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).resize(tile, tile, { fit: 'inside' }).png().toBuffer();
      composites.push({ input: buf, left: c * (tile + 4), top: r * (tile + 4) });
    }
  }
  await sharp({ create: { width: cols * (tile + 4), height: rows.length * (tile + 4), channels: 3, background: '#ffffff' } }).composite(composites).png().toFile(file);
}
