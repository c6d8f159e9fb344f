/**
 * `impasto video` and `stylizeVideo` (src/video): the temporal-consistency figure on a clip with
 * known motion (video mode against per-frame independent stylisation), a clip end to end through
 * Debian's ffmpeg (frame count, frame rate, duration and audio kept; a slice), resume after a
 * kill mid-clip, and the refusals. The ffmpeg parts are skipped locally without ffmpeg and fail
 * under CI=true (.ci/run installs it); the rest needs no ffmpeg.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromPlanar, readImage, toPlanar, writeImage } from '../../src/image/io-node.js';
import { stylizeVideo } from '../../src/video/video.js';
import { inconsistency, panZoom, type PanZoom } from './clip.js';
import { jsonLines } from '../batch/run-json.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const img = (n: string) => path.join(root, 'tests/fixtures/images', n);
const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
if (!haveFfmpeg && process.env.CI) throw new Error("ffmpeg is missing: .ci/run installs Debian's ffmpeg");
const skipFfmpeg = haveFfmpeg ? false : 'no ffmpeg (apt-get install ffmpeg)';

let dir = '';
let clip: PanZoom;
const SIZE = 128;
const FRAMES = 6;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-video-'));
  const photo = toPlanar(await readImage(img('tubingen.jpg')));
  clip = panZoom(photo, FRAMES, SIZE, 96, [SIZE / 40, SIZE / 120], 0.985); // the houses, below the sky (clip.ts HOUSES)
  await mkdir(path.join(dir, 'clip'));
  for (const [i, f] of clip.frames.entries()) await writeImage(path.join(dir, 'clip', `frame${i + 1}.png`), fromPlanar(f));
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/bin.ts'), ...args], { cwd: root, env: { ...process.env, IMPASTO_HOME: path.join(dir, 'home'), ...env } });
}

const framesOf = async (folder: string) => (await readdir(folder)).filter((f) => /^\d{6}\.png$/.test(f)).sort();

test('temporal consistency on a pan and zoom with known motion: video mode ≥ 3× lower than per-frame stylisation, content term within 10 %', { timeout: 300_000 }, async () => {
  const figures: Record<string, { inconsistency: number; content: number }> = {};
  for (const mode of ['independent', 'video'] as const) {
    const out = path.join(dir, `figure-${mode}`);
    const content: number[] = [];
    const r = await stylizeVideo({ input: path.join(dir, 'clip'), style: img('starry_night.jpg'), output: out, network: 'offline', size: SIZE, iterations: 50, independent: mode === 'independent' }, {
      onEvent: (e) => { if (e.type === 'frame') content.push(Object.entries(e.terms).filter(([k]) => k.startsWith('content/')).reduce((a, [, v]) => a + v, 0)); },
    });
    assert.deepEqual([r.frames, r.stylised, r.skipped, r.stopReason], [FRAMES, FRAMES, 0, 'done']);
    const frames = await Promise.all((await framesOf(out)).map(async (f) => toPlanar(await readImage(path.join(out, f)))));
    figures[mode] = { inconsistency: inconsistency(frames, clip), content: content.reduce((a, b) => a + b, 0) / content.length };
  }
  const { independent, video } = figures as Record<string, { inconsistency: number; content: number }>;
  const ratio = independent!.inconsistency / video!.inconsistency;
  const content = video!.content / independent!.content;
  console.log(`# inconsistency: independent ${independent!.inconsistency.toFixed(1)}, video ${video!.inconsistency.toFixed(1)} (${ratio.toFixed(2)}× lower); content term ×${content.toFixed(3)}`);
  assert.ok(ratio >= 3, `video mode only ${ratio.toFixed(2)}× more consistent`);
  assert.ok(content <= 1.1, `content term ${content.toFixed(3)}× the per-frame one`);
});

async function ffprobe(file: string): Promise<{ video: Record<string, string>; audio?: Record<string, string> }> {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,nb_read_frames,r_frame_rate,duration,width,height', '-of', 'json', file], { encoding: 'utf8' });
  const streams = (JSON.parse(r.stdout) as { streams: Record<string, string>[] }).streams;
  return { video: streams.find((s) => s.codec_type === 'video')!, audio: streams.find((s) => s.codec_type === 'audio') };
}

test('a clip end to end through ffmpeg: the same frame count, frame rate and duration out, audio kept; --start/--frames stylise a slice', { skip: skipFfmpeg, timeout: 300_000 }, async () => {
  const mp4 = path.join(dir, 'clip.mp4');
  const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-framerate', '10', '-i', path.join(dir, 'clip', 'frame%d.png'), '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(FRAMES / 10), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', mp4]);
  assert.equal(made.status, 0, String(made.stderr));
  const input = await ffprobe(mp4);
  assert.equal(Number(input.video.nb_read_frames), FRAMES);

  const out = path.join(dir, 'out.mp4');
  const r = await jsonLines(cli(['video', mp4, img('starry_night.jpg'), '-o', out, '--network', 'offline', '--size', '64', '--iterations', '10', '--json']));
  assert.equal(r.code, 0, r.stderr);
  const frames = r.lines.filter((l) => l.type === 'frame');
  assert.equal(frames.length, FRAMES);
  assert.ok(frames.slice(1).every((f) => (f.terms as Record<string, number>)['temporal/1'] !== undefined), 'frames after the first carry the temporal term');
  const start = r.lines.find((l) => l.type === 'video-start')!;
  assert.deepEqual([start.width, start.height, start.fps, start.audio], [64, 48, 10, true]);
  const got = await ffprobe(out);
  assert.equal(Number(got.video.nb_read_frames), FRAMES, 'same frame count');
  assert.equal(got.video.r_frame_rate, '10/1', 'same frame rate');
  assert.deepEqual([Number(got.video.width), Number(got.video.height)], [64, 48]);
  assert.ok(Math.abs(Number(got.video.duration) - FRAMES / 10) < 0.051, `video duration ${got.video.duration}`);
  assert.ok(got.audio, 'the audio track is kept');
  assert.ok(Math.abs(Number(got.audio!.duration) - FRAMES / 10) < 0.05, `audio duration ${got.audio!.duration}`);
  assert.equal(existsSync(`${out}.work`), false, 'the work folder is removed once the video is written');

  // A slice into a folder: frames 2–4 of the clip. With 2 steps a frame the output stays close to
  // its input frame, so output 0 is nearest to clip frame 2.
  const slice = path.join(dir, 'slice');
  const s = await jsonLines(cli(['video', mp4, img('starry_night.jpg'), '-o', slice, '--network', 'offline', '--size', '64', '--iterations', '2', '--start', '2', '--frames', '3', '--independent', '--json']));
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(await framesOf(slice), ['000000.png', '000001.png', '000002.png']);
  const first = toPlanar(await readImage(path.join(slice, '000000.png')));
  const decoded = spawnSync('ffmpeg', ['-v', 'error', '-i', mp4, '-vf', 'scale=64:48:flags=bicubic', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 24 });
  const frameBytes = 64 * 48 * 3;
  const distance = (k: number) => {
    let d = 0;
    const raw = decoded.stdout.subarray(k * frameBytes, (k + 1) * frameBytes);
    for (let i = 0; i < 64 * 48; i++) for (let ch = 0; ch < 3; ch++) d += (raw[i * 3 + ch]! - first.data[ch * 64 * 48 + i]!) ** 2;
    return d;
  };
  const nearest = [0, 1, 2, 3, 4, 5].reduce((best, k) => (distance(k) < distance(best) ? k : best), 0);
  assert.equal(nearest, 2, 'the slice starts at frame 2');
});

test('resume after a kill mid-clip: the frames written are kept as they were, the rest are made, none twice', { timeout: 300_000 }, async () => {
  const out = path.join(dir, 'resumed');
  const args = ['video', path.join(dir, 'clip'), img('starry_night.jpg'), '-o', out, '--network', 'offline', '--size', '64', '--iterations', '20', '--json'];
  const first = cli(args);
  let written = 0;
  const killed = await jsonLines(first, (l) => {
    if (l.type === 'frame' && ++written === 2) first.kill('SIGKILL');
  });
  assert.equal(killed.code, null, 'killed');
  const kept = await framesOf(out);
  assert.ok(kept.length >= 2 && kept.length < FRAMES, `${kept.length} frames written before the kill`);
  const before = await Promise.all(kept.map((f) => readFile(path.join(out, f))));
  const again = await jsonLines(cli(args));
  assert.equal(again.code, 0, again.stderr);
  const start = again.lines.find((l) => l.type === 'video-start')!;
  assert.equal(start.skipped, kept.length, 'the frames written are skipped');
  const made = again.lines.filter((l) => l.type === 'frame').map((l) => l.index as number);
  assert.deepEqual(made, Array.from({ length: FRAMES - kept.length }, (_, i) => kept.length + i), 'the rest are made once each, in order');
  assert.equal((await framesOf(out)).length, FRAMES);
  for (const [i, f] of kept.entries()) assert.ok((await readFile(path.join(out, f))).equals(before[i]!), `${f} unchanged`);
  // The first resumed frame is held to the frame written before the kill.
  assert.ok((again.lines.find((l) => l.type === 'frame')!.terms as Record<string, number>)['temporal/1']! >= 0);
});

test('refusals: another run\'s frames, a stranger\'s manifest, a folder without frames, bad --long-term, and no ffmpeg for a video file (exit 5, says how to install it)', { timeout: 120_000 }, async () => {
  const out = path.join(dir, 'resumed'); // written by the resume test with --iterations 20
  const other = await jsonLines(cli(['video', path.join(dir, 'clip'), img('starry_night.jpg'), '-o', out, '--network', 'offline', '--size', '64', '--iterations', '21']));
  assert.equal(other.code, 2);
  assert.match(other.stderr, /holds the frames of another run/);
  const stranger = path.join(dir, 'stranger');
  await mkdir(stranger);
  await writeFile(path.join(stranger, 'impasto-video.json'), '{"fingerprint": 3');
  const notOurs = await jsonLines(cli(['video', path.join(dir, 'clip'), img('starry_night.jpg'), '-o', stranger, '--network', 'offline', '--size', '64']));
  assert.equal(notOurs.code, 2);
  assert.match(notOurs.stderr, /stranger\/impasto-video\.json is not an Impasto video manifest \(not JSON\); remove it, or give an output other than/);
  assert.deepEqual(await readdir(stranger), ['impasto-video.json'], 'nothing written beside it');
  const empty = path.join(dir, 'empty');
  await mkdir(empty);
  const none = await jsonLines(cli(['video', empty, img('starry_night.jpg'), '-o', path.join(dir, 'none'), '--network', 'offline']));
  assert.equal(none.code, 3);
  assert.match(none.stderr, /holds no frames/);
  const lt = await jsonLines(cli(['video', path.join(dir, 'clip'), img('starry_night.jpg'), '-o', path.join(dir, 'lt'), '--long-term', '2,1']));
  assert.equal(lt.code, 2);
  assert.match(lt.stderr, /ascending frame offsets starting with 1/);
  const noFfmpeg = await jsonLines(cli(['video', path.join(dir, 'clip'), img('starry_night.jpg'), '-o', path.join(dir, 'x.mp4'), '--network', 'offline'], { PATH: path.join(dir, 'no-such-bin') }));
  assert.equal(noFfmpeg.code, 5, noFfmpeg.stderr);
  assert.match(noFfmpeg.stderr, /ffmpeg is not installed.*apt-get install ffmpeg.*or give a folder of frames/);
});
