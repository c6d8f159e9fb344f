/**
 * Video in and out, through Debian's (or any) `ffmpeg` and `ffprobe` on the PATH, and folders of
 * frames, which need neither.
 *
 *   probe (ffprobe: size, frame rate, frame count, audio) → decode a slice to PNG frames at the
 *   working size (ffmpeg: trim by frame number, then scale) → … → encode PNG frames to H.264
 *   (yuv420p, CRF 18) at the input's frame rate, with the input's audio for the same slice (AAC)
 *
 * Each program runs with its arguments as an array (no shell), reads only the file it is given
 * and writes only into the folder or temporary file it is given; the encoded video goes to a
 * temporary name beside the output, then is renamed over it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MissingToolError, VideoError } from '../errors.js';
import { MAX_INPUT_PIXELS } from '../image/io-node.js';

export { MissingToolError, VideoError };

/** Extensions written as a video file; any other output is a folder of frames. */
export const VIDEO_EXTENSIONS = ['.mp4', '.mov', '.mkv', '.m4v'] as const;
/** Frame files read from a folder, in natural order of their names. */
export const FRAME_PATTERN = /\.(png|jpe?g|webp|tiff?)$/i;
/** Most frames one run takes (about 55 minutes at 30 frames per second). */
export const MAX_FRAMES = 100_000;

/** Runs `cmd args…`; resolves with stdout, rejects with its stderr's last lines. */
function run(cmd: string, args: readonly string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += String(d); if (out.length > 1e6) child.kill(); });
    child.stderr.on('data', (d) => { err = (err + String(d)).slice(-4000); });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new MissingToolError(`${cmd} is not installed, and reading or writing a video file needs it: install ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg; Windows: winget install ffmpeg), or give a folder of frames instead of a video file`));
      else reject(e);
    });
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(Object.assign(new Error(err.trim().split('\n').slice(-3).join('; ') || `${cmd} exited with ${code}`), { code }));
    });
  });
}

/** Whether ffmpeg and ffprobe run. @throws MissingToolError naming the one missing and how to install it. */
export async function checkFfmpeg(): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-version']);
  await run('ffprobe', ['-hide_banner', '-version']);
}

/** What the input video holds. */
export interface VideoInfo {
  readonly width: number;
  readonly height: number;
  /** Frames per second as ffmpeg states it (`30000/1001`), and its value. */
  readonly rate: string;
  readonly fps: number;
  /** Frames, from the stream header or duration × fps (the decoded count is what is used). */
  readonly frames: number;
  readonly audio: boolean;
}

/**
 * The video's size, frame rate, frame count and whether it has audio, from ffprobe.
 * @throws VideoError when it has no video stream, a size over MAX_INPUT_PIXELS, or no frame rate.
 */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const st = await fs.stat(file).catch(() => null);
  if (!st?.isFile()) throw new VideoError(`cannot read video ${file}: no such file; check the path`);
  let json: { streams?: Record<string, unknown>[]; format?: { duration?: string } };
  try {
    json = JSON.parse(await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', '--', file])) as typeof json;
  } catch (err) {
    if (err instanceof MissingToolError) throw err;
    throw new VideoError(`cannot read video ${file}: ffprobe says ${(err as Error).message}; expected a video file ffmpeg can decode`);
  }
  const video = json.streams?.find((s) => s.codec_type === 'video' && !(s.disposition as Record<string, number> | undefined)?.attached_pic);
  if (!video) throw new VideoError(`cannot read video ${file}: it has no video stream; expected a video file (or a folder of frames)`);
  const width = Number(video.width), height = Number(video.height);
  if (!(width > 0 && height > 0) || width * height > MAX_INPUT_PIXELS) {
    throw new VideoError(`cannot read video ${file}: its frames are ${width}×${height}, expected at most ${MAX_INPUT_PIXELS / 1e6} Mpx each`);
  }
  const rate = String(video.r_frame_rate ?? video.avg_frame_rate ?? '');
  const [num, den] = rate.split('/').map(Number);
  const fps = den ? num! / den : num!;
  if (!(fps > 0 && fps <= 1000)) throw new VideoError(`cannot read video ${file}: its frame rate '${rate}' is not one Impasto can keep; re-encode it with a constant frame rate`);
  const duration = Number(video.duration ?? json.format?.duration);
  const frames = Number(video.nb_frames) > 0 ? Number(video.nb_frames) : Number.isFinite(duration) ? Math.round(duration * fps) : 0;
  return { width, height, rate, fps, frames, audio: Boolean(json.streams?.some((s) => s.codec_type === 'audio')) };
}

/**
 * Decodes frames `start` … `start + count − 1` (0-based; count Infinity: to the end) of `file`
 * into `dir` as `000000.png`, `000001.png`, … at width×height (bicubic). `dir` is emptied (made
 * anew) first. @returns the number of frames written.
 * @throws VideoError when ffmpeg fails on the file.
 */
export async function decodeFrames(file: string, dir: string, start: number, count: number, width: number, height: number, signal?: AbortSignal): Promise<number> {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  const end = Number.isFinite(count) ? `:end_frame=${start + count}` : '';
  try {
    await run('ffmpeg', [
      '-v', 'error', '-nostdin', '-i', file,
      '-map', '0:v:0', '-vf', `trim=start_frame=${start}${end},setpts=PTS-STARTPTS,scale=${width}:${height}:flags=bicubic`,
      '-fps_mode', 'passthrough', '-frames:v', String(Math.min(count, MAX_FRAMES)), '-start_number', '0', path.join(dir, '%06d.png'),
    ], signal);
  } catch (err) {
    if (err instanceof MissingToolError || signal?.aborted) throw err;
    throw new VideoError(`cannot decode video ${file}: ffmpeg says ${(err as Error).message}`);
  }
  return (await fs.readdir(dir)).filter((f) => /^\d{6}\.png$/.test(f)).length;
}

/**
 * Encodes `dir/000000.png …` (`count` frames) at `rate` into `output` (H.264, yuv420p, CRF 18),
 * with the audio of `audioFrom` for the same slice (frames `start`… at `fps`) when given, cut to
 * the frames' duration. Written to a temporary file beside `output`, then renamed over it.
 * @throws VideoError when ffmpeg fails.
 */
export async function encodeFrames(dir: string, count: number, rate: string, fps: number, output: string, audioFrom?: { file: string; start: number }, signal?: AbortSignal): Promise<void> {
  const ext = path.extname(output);
  const tmp = path.join(path.dirname(output), `.${path.basename(output, ext)}.${process.pid}.tmp${ext}`);
  const seconds = (count / fps).toFixed(6);
  const audio = audioFrom ? ['-ss', (audioFrom.start / fps).toFixed(6), '-i', audioFrom.file] : [];
  try {
    await run('ffmpeg', [
      '-v', 'error', '-nostdin', '-y', '-framerate', rate, '-start_number', '0', '-i', path.join(dir, '%06d.png'), ...audio,
      '-map', '0:v:0', ...(audioFrom ? ['-map', '1:a:0', '-c:a', 'aac', '-b:a', '192k'] : []),
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '18', '-r', rate, '-t', seconds, '-movflags', '+faststart', tmp,
    ], signal);
    await fs.rename(tmp, output);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    if (err instanceof MissingToolError || signal?.aborted) throw err;
    throw new VideoError(`cannot encode ${output}: ffmpeg says ${(err as Error).message}`);
  }
}

/** The frame files of a folder, in natural order of their names (`frame2` before `frame10`). */
export async function listFrames(dir: string): Promise<string[]> {
  const names = (await fs.readdir(dir)).filter((f) => FRAME_PATTERN.test(f) && !f.startsWith('.'));
  const collator = new Intl.Collator('en', { numeric: true });
  return names.sort(collator.compare).map((f) => path.join(dir, f));
}
