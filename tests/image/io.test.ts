/**
 * Image input: every odd format comes in as upright 8-bit sRGB, and every bad file gets a message
 * that says what was expected and what to do. Output: atomic (temp file, then rename).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ImageError, readImage, writeImage } from '../../src/image/io-node.js';
import { pngHeaderOnly } from '../helpers.js';

let dir = '';
const shared = new URL('../fixtures/images/', import.meta.url).pathname;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-io-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A 40×20 RGB test card: left half red, right half blue. */
function card(): Buffer {
  const b = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) b.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
  return b;
}
const raw = { raw: { width: 40, height: 20, channels: 3 as const } };
const px = (img: { data: Uint8Array; width: number }, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

test('reads a JPEG photo as 8-bit RGB of its own size', async () => {
  const img = await readImage(path.join(shared, 'tubingen.jpg'));
  assert.deepEqual([img.width, img.height, img.data.length], [512, 384, 512 * 384 * 3]);
});

test('CMYK, grey, 16-bit and alpha images come in as 8-bit sRGB with 3 channels', async () => {
  const files: Record<string, Promise<unknown>> = {
    'cmyk.jpg': sharp(card(), raw).toColourspace('cmyk').jpeg({ quality: 100 }).toFile(path.join(dir, 'cmyk.jpg')),
    'grey.png': sharp(card(), raw).greyscale().png().toFile(path.join(dir, 'grey.png')),
    'rgb16.png': sharp(card(), raw).toColourspace('rgb16').png().toFile(path.join(dir, 'rgb16.png')),
    'alpha.png': sharp(card(), raw).ensureAlpha(0).png().toFile(path.join(dir, 'alpha.png')),
  };
  await Promise.all(Object.values(files));
  const meta16 = await sharp(path.join(dir, 'rgb16.png')).metadata();
  assert.equal(meta16.depth, 'ushort', 'the fixture really is 16-bit');
  assert.equal((await sharp(path.join(dir, 'cmyk.jpg')).metadata()).space, 'cmyk', 'the fixture really is CMYK');
  for (const name of Object.keys(files)) {
    const img = await readImage(path.join(dir, name));
    assert.deepEqual([img.width, img.height, img.data.length], [40, 20, 40 * 20 * 3], name);
  }
  const cmyk = await readImage(path.join(dir, 'cmyk.jpg'));
  assert.ok(px(cmyk, 5, 5)[0]! > 200 && px(cmyk, 5, 5)[2]! < 60, `CMYK red stays red: ${px(cmyk, 5, 5)}`);
  const grey = await readImage(path.join(dir, 'grey.png'));
  const g = px(grey, 5, 5);
  assert.ok(g[0] === g[1] && g[1] === g[2], 'grey is replicated to three equal channels');
  const deep = await readImage(path.join(dir, 'rgb16.png'));
  assert.deepEqual(px(deep, 30, 5), [0, 0, 255], '16-bit blue maps to 8-bit 255');
  const alpha = await readImage(path.join(dir, 'alpha.png'));
  assert.deepEqual(px(alpha, 5, 5), [255, 255, 255], 'a fully transparent pixel is composited over white');
});

test('an EXIF-rotated photo comes out upright', async () => {
  // Store the card rotated 90° clockwise (20 wide, 40 tall) with orientation 8 (rotate 270° CW to view).
  const file = path.join(dir, 'rotated.jpg');
  await sharp(card(), raw).rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 100 }).toFile(file);
  const stored = await sharp(file).metadata();
  assert.deepEqual([stored.width, stored.height, stored.orientation], [20, 40, 8]);
  const img = await readImage(file);
  assert.deepEqual([img.width, img.height], [40, 20]);
  assert.ok(px(img, 5, 10)[0]! > 200, `left is red: ${px(img, 5, 10)}`);
  assert.ok(px(img, 35, 10)[2]! > 200, `right is blue: ${px(img, 35, 10)}`);
});

test('a missing file, random bytes, a text file named .png and a truncated JPEG each get a clear error', async () => {
  await writeFile(path.join(dir, 'noise.jpg'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
  await writeFile(path.join(dir, 'text.png'), 'this is not an image\n');
  const jpg = await readFile(path.join(shared, 'tubingen.jpg'));
  await writeFile(path.join(dir, 'truncated.jpg'), jpg.subarray(0, jpg.length >> 1));
  await assert.rejects(readImage(path.join(dir, 'absent.jpg')), (e: Error) => e instanceof ImageError && /does not exist; check the path/.test(e.message));
  for (const f of ['noise.jpg', 'text.png']) {
    await assert.rejects(readImage(path.join(dir, f)), (e: Error) => e instanceof ImageError && /expected a JPEG, PNG/.test(e.message) && e.message.includes(f), f);
  }
  await assert.rejects(readImage(path.join(dir, 'truncated.jpg')), (e: Error) => e instanceof ImageError && /corrupt or truncated/.test(e.message));
});

test('a 20000×20000 image is refused from its header, without decoding it', async () => {
  // A valid PNG header claiming 20000×20000 with one tiny compressed row: decoding would need 1.2 GB.
  const png = pngHeaderOnly(20000, 20000);
  await writeFile(path.join(dir, 'huge.png'), png);
  const rssBefore = process.memoryUsage().rss;
  await assert.rejects(readImage(path.join(dir, 'huge.png')), /20000×20000 px \(400 Mpx\); Impasto reads images up to 100 Mpx/);
  assert.ok(process.memoryUsage().rss - rssBefore < 200e6, 'no large allocation');
});

test('writing is atomic: the target appears whole and no temporary file is left', async () => {
  const file = path.join(dir, 'out.png');
  await writeImage(file, { data: new Uint8Array(card()), width: 40, height: 20 });
  const meta = await sharp(file).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 40, 20]);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
  await assert.rejects(writeImage(path.join(dir, 'no-such-dir', 'x.png'), { data: new Uint8Array(card()), width: 40, height: 20 }), /check that the directory exists and is writable/);
  await assert.rejects(writeImage(path.join(dir, 'x.bmp'), { data: new Uint8Array(card()), width: 40, height: 20 }), /expected an output name ending in \.png/);
});
