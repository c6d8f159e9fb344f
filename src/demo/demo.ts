/**
 * The demo's bundled inputs: a real photograph and a real painting, shipped in the package
 * (`assets/demo/`, 110 KB together; credits in assets/demo/CREDITS.md and printed by
 * `impasto demo`), so the demo needs no download. And the side-by-side sheet it writes.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readImage, type RgbImage } from '../image/io-node.js';

/** The bundled files and their credit lines. */
export const DEMO_INPUTS = {
  photo: { file: 'tubingen.jpg', credit: '"Neckarfront in Tübingen", photo by Andreas Praefcke, CC BY 3.0' },
  painting: { file: 'starry_night.jpg', credit: 'Vincent van Gogh, "The Starry Night" (1889), public domain' },
} as const;

/** The assets folder: beside src/ in the repository, beside dist/ in the package. */
function assetDir(): string {
  for (const rel of ['../../assets/demo/', '../../../assets/demo/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir + DEMO_INPUTS.photo.file)) return dir;
  }
  throw new Error('the demo images (assets/demo/) are missing from this installation; reinstall the package');
}

/** The bundled photo (512×384) and painting (512×320), decoded. */
export async function demoInputs(): Promise<{ photo: RgbImage; painting: RgbImage }> {
  const dir = assetDir();
  return { photo: await readImage(dir + DEMO_INPUTS.photo.file), painting: await readImage(dir + DEMO_INPUTS.painting.file) };
}

/**
 * Images side by side at one height (`height` px, each scaled with its aspect ratio), with a
 * `gap`-px white margin around and between them.
 */
export async function sideBySide(images: readonly RgbImage[], height: number, gap = 8): Promise<RgbImage> {
  const scaled = await Promise.all(images.map(async (img) => {
    const width = Math.max(1, Math.round((img.width * height) / img.height));
    const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).resize(width, height, { fit: 'fill' }).raw().toBuffer();
    return { data, width };
  }));
  const width = gap + scaled.reduce((a, s) => a + s.width + gap, 0);
  let left = gap;
  const composites = scaled.map((s) => {
    const c = { input: s.data, raw: { width: s.width, height, channels: 3 as const }, left, top: gap };
    left += s.width + gap;
    return c;
  });
  // composite() works in RGBA: drop the alpha channel again for 8-bit RGB.
  const { data: out, info } = await sharp({ create: { width, height: height + 2 * gap, channels: 3, background: '#ffffff' } })
    .composite(composites).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== width) throw new Error(`side-by-side sheet: expected ${width} px × 3 channels, received ${info.width} × ${info.channels}`);
  return { data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), width, height: height + 2 * gap };
}
