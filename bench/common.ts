/**
 * What every benchmark shares: its `--name value` arguments, the out/ folder, and contact sheets.
 */
import { writeFile } from 'node:fs/promises';
import { randomVggWeights, VGG_WIDTHS, type VggWeights } from '../src/networks/vgg.js';
import { torchvisionConvIndices } from '../src/networks/weights/load.js';
import { writeSafetensors, type NamedTensor } from '../src/networks/weights/safetensors.js';
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

/** Writes a seeded random VGG-19 as safetensors in one convention; returns its path. */
export async function randomFile(convention: 'caffe' | 'torchvision'): Promise<string> {
  const w: VggWeights = randomVggWeights('vgg19', 0, VGG_WIDTHS);
  const idx = torchvisionConvIndices('vgg19');
  const tensors = new Map<string, NamedTensor>();
  for (const [name, c] of w.convs) {
    const key = convention === 'torchvision' ? `features.${idx.get(name)}` : name;
    tensors.set(`${key}.weight`, { data: c.weight, shape: [...c.shape] });
    tensors.set(`${key}.bias`, { data: c.bias, shape: [c.shape[0]] });
  }
  const file = `${outDir}random-vgg19-${convention}.safetensors`;
  await writeFile(file, writeSafetensors(tensors));
  return file;
}
