/**
 * `impasto video <input.mp4|frames-folder> <style...> -o out.mp4|out-folder [options]`: a clip
 * stylised frame by frame with the temporal loss (src/video/video.ts).
 *
 * Progress: frames done of the total, seconds per frame (flow and optimisation), ETA; `--json`
 * prints the library's events. Ctrl-C stops after writing no partial frame; the same command
 * again skips the frames written and goes on. Exit codes: 0 done, 2 bad usage, 3 unreadable
 * input or a failed ffmpeg run, 5 ffmpeg missing (for a video file), 130 interrupted.
 */
import { EXIT_CODES } from '../src/errors.js';
import { OptionError } from '../src/pipeline/options.js';
import { parseArgs } from './args.js';
import { Progress } from './progress.js';
import { interruptible } from './interrupt.js';
import { VIDEO_FLAGS } from './video-flags.js';

function number(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n)) throw new OptionError(`invalid --${flag}: expected a number, received '${String(v)}'`);
  return n;
}

export async function runVideoCommand(argv: string[]): Promise<number> {
  const { positionals, options, flags } = parseArgs(argv, VIDEO_FLAGS);
  if (positionals.length < 2) throw new OptionError(`impasto video expects an input (a video file or a folder of frames) and at least one style image, received ${positionals.length}; usage: impasto video <input> <style...> -o OUT`);
  const output = flags.output as string | undefined;
  if (!output) throw new OptionError('impasto video needs -o OUT: a video file (.mp4, …) or a folder for the frames');
  const longTerm = flags['long-term'] === undefined ? undefined : String(flags['long-term']).split(',').map((s) => number('long-term', s)!);
  const json = Boolean(flags.json);
  const quiet = Boolean(flags.quiet);
  const { stylizeVideo } = await import('../src/video/video.js');
  const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const progress = new Progress(process.stderr, { enabled: !json && !quiet, format: (done, total) => `${done}/${total ?? '?'} frames` });
  const ac = interruptible(() => process.stderr.write('\ninterrupted: stopping (the frames written are kept; run the same command again to go on)\n'));
  let total = 0;
  let skipped = 0;
  let last = '';
  let done = 0;
  try {
    const r = await stylizeVideo({
      ...options, input: positionals[0]!, style: positionals.slice(1), output,
      start: flags.start as number | undefined, frames: flags.frames as number | undefined,
      temporalWeight: number('temporal-weight', flags['temporal-weight']), longTerm,
      frameIterations: flags['frame-iterations'] as number | undefined, independent: Boolean(flags.independent),
      fps: flags.fps as number | undefined, keepFrames: Boolean(flags['keep-frames']),
    }, {
      signal: ac.signal,
      onEvent: (e) => {
        if (json) {
          if (e.type !== 'iterate') print(e);
          return;
        }
        if (e.type === 'notice') progress.note(`note: ${e.message}`);
        else if (e.type === 'stage' && !quiet) progress.note(`${e.stage}…`);
        else if (e.type === 'video-start') {
          total = e.frames;
          skipped = e.skipped;
          progress.start(total, `video: ${total} frames at ${e.width}×${e.height}, ${e.fps.toFixed(3).replace(/\.?0+$/, '')} fps${e.audio ? ', with audio' : ''}, into ${e.output}${skipped ? ` (${skipped} already done: skipped)` : ''}`);
        } else if (e.type === 'frame') {
          last = `${(e.flowSeconds + e.optimiseSeconds).toFixed(1)} s/frame (flow ${e.flowSeconds.toFixed(2)} s)`;
          done = skipped + e.done;
          progress.update(done, last);
        } else if (e.type === 'iterate') progress.update(done, `frame ${e.index + 1}: step ${e.iteration}${last ? `; ${last}` : ''}`);
        else if (e.type === 'encode') progress.note(`encoding ${e.output}…`);
      },
    });
    progress.finish();
    if (!json && !quiet) {
      process.stderr.write(`video: ${r.stylised} frames stylised${r.skipped ? `, ${r.skipped} skipped (done before)` : ''}; ${r.stylised ? `${(r.flowSeconds + r.optimiseSeconds).toFixed(1)} s a frame (optical flow ${r.flowSeconds.toFixed(2)} s, optimisation ${r.optimiseSeconds.toFixed(1)} s)` : ''}${r.stopReason === 'done' ? `; wrote ${r.output}` : ''}\n`);
    }
    return r.stopReason === 'aborted' ? EXIT_CODES.interrupted : EXIT_CODES.ok;
  } finally {
    ac.dispose();
  }
}
