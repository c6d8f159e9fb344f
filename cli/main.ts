/**
 * The `impasto` command.
 *
 *   impasto <content> <style...> [-o out.png] [flags]     stylise (the main form)
 *   impasto score <image> --content C --style S [...]   print each loss term of an image
 *   impasto texture <style...> [-o texture.png] [...]   texture synthesis: the style terms alone, from noise (--tileable: it wraps)
 *   impasto demo [-o impasto-demo.png] [...]            stylise the bundled photo with the bundled painting, offline
 *   impasto batch --content A,DIR --style B,DIR -o DIR [--concurrency N] [--sweep KEY=V,…] [options] | --manifest FILE.json -o DIR   many stylisations into one folder; a re-run skips what is done
 *   impasto worker --queue redis://HOST:PORT [--concurrency N] [--grace S]   run jobs from a Redis queue (BullMQ)
 *   impasto serve [--port 8080] [--host 127.0.0.1] [--jobs N | --queue URL]   the local web app and HTTP API (cli/serve.ts)
 *   impasto video <input.mp4|frames-folder> <style...> -o out.mp4|out-folder [options]   a clip, without flicker (cli/video.ts)
 *   impasto weights fetch|add|list|verify              the weight cache (see cli/weights.ts)
 *   impasto presets                                    the loss-normalisation table
 *
 * Exit codes: the table in src/errors.ts (0 done, 1 unexpected, 2 usage, 3 input, 4 NaN, 130
 * interrupted). Every subcommand parses with cli/args.ts and shows progress with cli/progress.ts.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import { EXIT_CODES, exitCodeOf } from '../src/errors.js';
import { checkOutputPath } from '../src/image/output-path.js';
import type { RgbImage } from '../src/image/io-node.js';
import { CONTENT_NORMALISATIONS } from '../src/losses/content.js';
import { GRAM_NORMALISATIONS } from '../src/losses/gram-style.js';
import { PRESETS } from '../src/losses/presets.js';
import { NOT_FOR_SCORE, OptionError } from '../src/pipeline/options.js';
import type { ImageInput, StylizeEvent } from '../src/pipeline/stylize.js';
import { FlagDef, flagOf, flagsHelp, parseArgs } from './args.js';
import { Progress } from './progress.js';
import { interruptible } from './interrupt.js';
import { WEIGHTS_FLAGS } from './weights-flags.js';
import { SERVE_FLAGS } from './serve-flags.js';
import { BATCH_FLAGS } from './batch-flags.js';
import { VIDEO_FLAGS } from './video-flags.js';

// The image library, ONNX Runtime and the weight loaders load only after the arguments and the
// output path are checked (dynamic imports below), so that a mistake is reported in a fraction
// of a second.

/** Output file names when `-o` is not given. */
const DEFAULT_OUTPUT = { stylize: 'out.png', demo: 'impasto-demo.png', texture: 'texture.png' } as const;

const STYLIZE_FLAGS: readonly FlagDef[] = [
  { name: 'output', short: 'o', kind: 'string', arg: 'FILE', doc: `output image (.png, .jpg, .webp, .tif); default ${DEFAULT_OUTPUT.stylize} (demo: ${DEFAULT_OUTPUT.demo}, texture: ${DEFAULT_OUTPUT.texture})` },
  { name: 'json', kind: 'boolean', doc: 'machine-readable output: one JSON object per line on stdout' },
  { name: 'snapshot-every', kind: 'int', doc: 'also write the current image every N iterations, as <output>_<N>.<ext>' },
  { name: 'print-every', kind: 'int', doc: 'print the loss and terms every N iterations (instead of a progress bar)' },
  { name: 'quiet', short: 'q', kind: 'boolean', doc: 'no progress output' },
];

const SCORE_FLAGS: readonly FlagDef[] = [
  { name: 'content', kind: 'string', arg: 'FILE', doc: 'the content image the score compares with' },
  { name: 'style', kind: 'string', arg: 'FILE,…', doc: 'the style image(s), comma-separated' },
  { name: 'json', kind: 'boolean', doc: 'print {"total","content","style":{layer: term},"tv","terms":{key: term},"termWeights":{key: factor}} as JSON' },
];

const USAGE = `Usage:
  impasto <content> <style...> [-o ${DEFAULT_OUTPUT.stylize}] [options]   repaint a photo in the style of one or more paintings
  impasto score <image> --content C --style S [options] [--json]   print each loss term of an existing image
  impasto plan <content> <style...> [options] [--json]      each scale's size, blocks, predicted peak memory and time, before any work
  impasto texture <style...> [-o ${DEFAULT_OUTPUT.texture}] [--size PX | --width W --height H] [--tileable] [options]   a texture from the painting(s), from noise
  impasto demo [-o ${DEFAULT_OUTPUT.demo}] [options]           repaint the bundled photo (Tübingen) as the bundled painting (The Starry Night), offline; also writes <out>-sheet
  impasto video <input.mp4|frames-folder> <style...> -o out.mp4|out-folder [options]   a clip, frame by frame, held steady by the temporal loss
  impasto batch --content A,DIR --style B,DIR -o DIR [options] | --manifest FILE.json -o DIR   many stylisations into one folder
  impasto worker --queue redis://HOST:PORT [--concurrency N] [--grace S]   run jobs from a Redis queue (BullMQ)
  impasto serve [--port 8080] [--host 127.0.0.1] [--jobs N | --queue URL] [--queue-size N]   the web app: upload, watch it paint, download (README: HTTP API)
  impasto weights fetch [vgg19|vgg16] [--source keras|torchvision|timm|caffe|onnx] [--url U --sha256 H | --md5 H] [--timeout S]
  impasto weights add FILE [--name vgg19|vgg16] [--sha256 H]   a file downloaded elsewhere: checked, cached, made the default
  impasto weights list | verify                          the weight cache
  impasto presets                                        the loss normalisation of each reference tool

Exit codes: 0 done, 1 unexpected failure (a bug), 2 bad usage (or a run that cannot fit --max-memory), 3 unreadable input, failed download or unusable checkpoint, 4 loss became NaN (last good image written), 5 a program it needs is missing (ffmpeg, for a video file), 130 interrupted (current image written; with --checkpoint, the run saved).`;

function help(): string {
  return `${USAGE}\n\nOptions (stylise, texture, demo, plan and score):\n${flagsHelp(STYLIZE_FLAGS)}\n\nscore also takes:\n${flagsHelp(SCORE_FLAGS, false)}\n\nweights fetch takes:\n${flagsHelp(WEIGHTS_FLAGS, false)}\n\nserve takes:\n${flagsHelp(SERVE_FLAGS, false)}\n\nbatch takes the stylise options and:\n${flagsHelp(BATCH_FLAGS, false)}\n\nvideo takes the stylise options and:\n${flagsHelp(VIDEO_FLAGS, false)}\n`;
}

/** The presets table, in the paper's notation. */
export function presetsTable(): string {
  const rows = [['preset', 'content k_c', 'style k_l', 'vs paper', 'w_l', 'α', 'β', 'γ (TV)', 'pool', 'layers (content; style)']];
  for (const p of Object.values(PRESETS)) {
    const g = GRAM_NORMALISATIONS[p.gram];
    rows.push([p.name, CONTENT_NORMALISATIONS[p.content].text, g.text, g.vsPaper, p.styleLayerWeightText, String(p.alpha), p.autoNormalise ? '--strength' : String(p.beta), `${p.gamma} ${p.tv}`, p.pooling, `${p.contentLayers.join(',')}; ${p.styleLayers.join(',')}`]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
  lines.splice(1, 0, w.map((n) => '-'.repeat(n)).join('  '));
  return [
    'L = α·Σ_c u_c·k_c·Σ(F−P)² + β·Σ_l w_l·k_l·Σ(G−A)² + γ·TV,  N = channels, M = H·W, G = F·Fᵀ un-normalised',
    '(k_l is the Gram loss\'s; --style-loss mean-std has its own normalisation)',
    '',
    ...lines,
    '',
    ...Object.values(PRESETS).map((p) => `${p.name}: ${p.summary}. ${p.notes === 'none' ? '' : `Note: ${p.notes}.`}`),
  ].join('\n');
}

/** How each stop reason reads in the summary line. */
const STOP_WORDS: Record<string, string> = {
  budget: 'the iteration or evaluation budget was reached',
  converged: 'converged',
  'no-progress': 'stopped early: no line search, not even along the steepest descent, found a lower loss',
  aborted: 'interrupted',
  nan: 'the loss became NaN',
};

/** A number for a label: 3 significant digits. */
function fmtNum(v: number): string {
  return Number(v.toPrecision(3)).toString();
}

/** `content/relu4_2 1.2e-1 + style/relu1_1 …`: each term times its weight, as it enters the total. */
export function weightedTerms(terms: Readonly<Record<string, number>>, weights: Readonly<Record<string, number>>): string {
  return Object.entries(terms).map(([k, v]) => `${k} ${((weights[k] ?? NaN) * v).toExponential(3)}`).join(' + ');
}

/**
 * Prints each set-up stage (loading, network, targets, graph, …) as a plain line with the time
 * since the command started, so that no long step is silent; nothing when `silent`.
 */
function stageLine(silent: boolean): (stage: string) => void {
  const t0 = performance.now();
  return (stage) => {
    if (!silent) process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${stage}\n`);
  };
}

/** Fails before any work when `file`'s folder does not exist or cannot be written. @throws OptionError */
async function checkFolder(file: string, flag: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  try {
    await fs.access(dir, fs.constants.W_OK);
  } catch {
    throw new OptionError(`invalid ${flag} ${file}: its folder ${dir} does not exist or cannot be written; create it or choose another path`);
  }
}

/** The demo's side-by-side sheet beside its output: `x.png` → `x-sheet.png`. */
function sheetName(output: string): string {
  const ext = path.extname(output);
  return `${output.slice(0, output.length - ext.length)}-sheet${ext}`;
}

function snapshotName(output: string, iteration: number): string {
  const ext = path.extname(output);
  return `${output.slice(0, output.length - ext.length)}_${iteration}${ext}`;
}

/** What runStylize runs: a stylisation, the demo, or a texture (no content image). */
type Mode = 'stylize' | 'demo' | 'texture';

async function runStylize(argv: string[], mode: Mode = 'stylize'): Promise<number> {
  const demo = mode === 'demo';
  const args = parseArgs(argv, STYLIZE_FLAGS);
  if (args.flags.help) {
    process.stdout.write(help());
    return EXIT_CODES.ok;
  }
  if (demo && args.positionals.length) throw new OptionError(`demo takes no image names (it uses its bundled photo and painting), received ${args.positionals.join(' ')}`);
  if (mode === 'stylize' && args.positionals.length < 2) {
    throw new OptionError(`expected a content image and at least one style image, received ${args.positionals.length} file name${args.positionals.length === 1 ? '' : 's'}; usage: impasto <content> <style...> -o ${DEFAULT_OUTPUT.stylize}`);
  }
  if (mode === 'texture' && args.positionals.length < 1) {
    throw new OptionError(`expected at least one style image, received none; usage: impasto texture <style...> -o ${DEFAULT_OUTPUT.texture} [--size PX | --width W --height H] [--tileable]`);
  }
  const output = String(args.flags.output ?? DEFAULT_OUTPUT[mode]);
  await checkOutputPath(output); // fail before any work on a name that cannot be written (snapshots go beside it)
  const sheet = demo ? sheetName(output) : null;
  if (sheet) await checkOutputPath(sheet);
  if (args.options.checkpoint) await checkFolder(String(args.options.checkpoint), '--checkpoint');

  const [{ stylize }, { writeImage }, { DEMO_INPUTS, demoInputs, sideBySide }] = await Promise.all([
    import('../src/pipeline/stylize.js'), import('../src/image/io-node.js'), import('../src/demo/demo.js'),
  ]);
  let content: ImageInput | null;
  let styles: ImageInput[];
  if (demo) {
    const inputs = await demoInputs();
    content = inputs.photo;
    styles = [inputs.painting];
  } else if (mode === 'texture') {
    content = null;
    styles = args.positionals;
  } else {
    [content, ...styles] = args.positionals as [string, ...string[]];
  }
  const json = Boolean(args.flags.json);
  const snapshotEvery = Number(args.flags['snapshot-every'] ?? 0);
  const printEvery = Number(args.flags['print-every'] ?? 0);
  const quiet = Boolean(args.flags.quiet);
  const progress = new Progress(process.stderr, {
    enabled: !json && !quiet && !printEvery,
    format: (done, total) => `${done}/${total} iterations`,
  });
  let weights: Readonly<Record<string, number>> = {};

  const ac = interruptible(() => progress.note('interrupted: writing the current image (Ctrl-C again to quit at once)'), true);
  const pending: Promise<void>[] = [];
  const stage = stageLine(json || quiet);
  const onEvent = (e: StylizeEvent) => {
    if (e.type === 'stage') stage(e.stage);
    if (json) process.stdout.write(`${JSON.stringify(e.type === 'iterate' ? { ...e, image: undefined } : e)}\n`);
    if (e.type === 'notice' && !json && !quiet) progress.note(`note: ${e.message}`);
    if (e.type === 'scale') {
      weights = e.termWeights;
      if (!json && !quiet && e.count > 1) progress.note(`scale ${e.index + 1}/${e.count}: ${e.width}×${e.height}${e.blocks ? `, in ${e.blocks} blocks` : ''}`);
    }
    if (e.type === 'checkpoint' && !json && !quiet) progress.note(`checkpoint: wrote ${e.file}`);
    if (e.type === 'start') {
      const scales = e.scales.slice(e.firstScale);
      const sizes = scales.length > 1 ? `${scales.length} scales, ${scales[0]!.width}×${scales[0]!.height} to ${e.width}×${e.height}` : `${e.width}×${e.height}`;
      progress.start(e.iterations, `${sizes}, ${e.network}, preset ${e.preset}, ${e.styleLoss} style loss, β ${fmtNum(e.styleWeight)}${e.autoNormalised ? ' (scale-free layer weights)' : ''}, at most ${e.maxEvaluations} evaluations per scale`);
      if (printEvery && !json && !quiet) process.stderr.write(`${e.width}×${e.height}, ${e.network}; each term below is weighted as it enters the total\n`);
    }
    if (e.type === 'iterate') {
      progress.update(e.iteration, `loss ${e.loss.toExponential(3)}, ${e.evaluations} evaluations`);
      if (printEvery && e.iteration % printEvery === 0 && !json && !quiet) {
        process.stderr.write(`iteration ${e.iteration} (${e.evaluations} evaluations): total ${e.loss.toExponential(4)} = ${weightedTerms(e.terms, weights)}\n`);
      }
      if (e.image && snapshotEvery) {
        const file = snapshotName(output, e.iteration);
        const iteration = e.iteration;
        pending.push(writeImage(file, e.image).then(
          () => {
            if (json) process.stdout.write(`${JSON.stringify({ type: 'snapshot', iteration, file })}\n`);
            else if (!quiet) progress.note(`snapshot: wrote ${file}`);
          },
          (err: Error) => progress.note(`warning: snapshot not written: ${err.message}`),
        ));
      }
    }
  };
  try {
    const result = await stylize({ ...args.options, content, style: styles, imageEvery: snapshotEvery }, { onEvent, signal: ac.signal });
    await Promise.all(pending);
    await writeImage(output, result.image);
    progress.finish();
    if (sheet && content && typeof content !== 'string') {
      await writeImage(sheet, await sideBySide([content, styles[0] as RgbImage, result.image], 320));
      if (json) process.stdout.write(`${JSON.stringify({ type: 'sheet', file: sheet })}\n`);
    }
    const summary = {
      type: 'result', output, loss: result.loss, optimiserLoss: result.optimiserLoss, initialLoss: result.initialLoss, terms: result.terms,
      iterations: result.iterations, evaluations: result.evaluations, stopReason: result.stopReason, scales: result.scales,
    };
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!quiet) process.stderr.write(`wrote ${output}: loss ${result.initialLoss.toExponential(3)} → ${result.loss.toExponential(3)} (the written image's) in ${result.iterations} iterations, ${result.evaluations} evaluations (${STOP_WORDS[result.stopReason]})\n`);
    if (!json && !quiet && result.scales.length > 1) {
      process.stderr.write(`scales: ${result.scales.map((r) => `${r.width}×${r.height} ${r.iterations} it. (${r.stopReason === 'converged' ? 'converged' : r.stopReason === 'budget' ? 'budget' : STOP_WORDS[r.stopReason] ?? r.stopReason})`).join(', ')}\n`);
    }
    if (result.stopReason === 'aborted' && args.options.checkpoint && !json && !quiet) process.stderr.write(`the run is saved in ${String(args.options.checkpoint)}: add --resume ${String(args.options.checkpoint)} to the same command to continue it\n`);
    if (sheet && !json && !quiet) process.stderr.write(`wrote ${sheet}: photo | painting | result\nphoto: ${DEMO_INPUTS.photo.credit}; painting: ${DEMO_INPUTS.painting.credit}\n`);
    if (result.stopReason === 'nan') {
      process.stderr.write(`error: the loss became NaN or infinite (after ${result.iterations} iterations, ${result.evaluations} evaluations); ${output} holds the last good image. Lower --style-weight/--learning-rate or check the weight file for NaNs\n`);
      return EXIT_CODES.nan;
    }
    return result.stopReason === 'aborted' ? EXIT_CODES.interrupted : EXIT_CODES.ok;
  } finally {
    progress.finish();
    ac.dispose();
  }
}

async function runScore(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SCORE_FLAGS);
  if (args.flags.help) {
    process.stdout.write(help());
    return EXIT_CODES.ok;
  }
  if (args.positionals.length !== 1) throw new OptionError(`score expects one image to score, received ${args.positionals.length}; usage: impasto score <image> --content C --style S`);
  if (!args.flags.content || !args.flags.style) throw new OptionError('score needs --content FILE and --style FILE (comma-separate several styles)');
  const json = Boolean(args.flags.json);
  const progress = new Progress(process.stderr, { enabled: false, format: () => '' });
  const given = NOT_FOR_SCORE.filter((k) => args.options[k] !== undefined);
  if (given.length) {
    throw new OptionError(`score measures the image as it is, at its own size; ${given.map((k) => `--${flagOf(k)}`).join(', ')} ${given.length > 1 ? 'do' : 'does'} not apply to it (resize the image first to score it at another size)`);
  }
  const { score } = await import('../src/pipeline/score.js');
  const r = await score({
    ...args.options, image: args.positionals[0]!, content: String(args.flags.content), style: String(args.flags.style).split(','),
  }, { onNotice: (m) => { if (!json) progress.note(`note: ${m}`); }, onStage: stageLine(json) });
  if (json) {
    process.stdout.write(`${JSON.stringify({ total: r.total, content: r.content, style: r.style, tv: r.tv, terms: r.terms, termWeights: r.termWeights })}\n`);
  } else {
    process.stdout.write(`image ${r.width}×${r.height}, preset ${r.preset}, ${r.styleLoss} style loss\n`);
    process.stdout.write(`total    ${r.total.toExponential(6)}\ncontent  ${r.content.toExponential(6)}\n`);
    for (const [k, v] of Object.entries(r.style)) process.stdout.write(`style ${k.padEnd(8)} ${v.toExponential(6)}\n`);
    process.stdout.write(`tv       ${r.tv.toExponential(6)}\n`);
  }
  return EXIT_CODES.ok;
}

async function runPlan(argv: string[]): Promise<number> {
  const args = parseArgs(argv, STYLIZE_FLAGS);
  if (args.flags.help) {
    process.stdout.write(help());
    return EXIT_CODES.ok;
  }
  if (args.positionals.length < 2) throw new OptionError(`plan expects a content image and at least one style image, as for a stylisation, received ${args.positionals.length}; usage: impasto plan <content> <style...> [options] [--json]`);
  const json = Boolean(args.flags.json);
  const { planRequest } = await import('../src/pipeline/plan-request.js');
  const plan = await planRequest({ ...args.options, content: args.positionals[0]!, style: args.positionals.slice(1) }, { onNotice: (m) => { if (!json) process.stderr.write(`note: ${m}\n`); }, onStage: stageLine(false) });
  if (json) {
    process.stdout.write(`${JSON.stringify(plan)}\n`);
    return EXIT_CODES.ok;
  }
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  process.stdout.write(`memory budget ${gb(plan.budget)}${plan.history !== undefined ? `, L-BFGS history ${plan.history}` : ''}\n`);
  process.stdout.write(`scale  size          blocks  peak memory  s/evaluation  evaluations  time\n`);
  for (const [i, s] of plan.scales.entries()) {
    process.stdout.write(`${String(i + 1).padEnd(7)}${`${s.width}×${s.height}`.padEnd(14)}${String(s.blocks || 'whole').padEnd(8)}${gb(s.bytes).padEnd(13)}${s.seconds.toFixed(3).padEnd(14)}${String(s.evaluations).padEnd(13)}${fmtSeconds(s.evaluations * s.seconds)}\n`);
  }
  process.stdout.write(`total: at most ${fmtSeconds(plan.seconds)} of optimisation (each scale's evaluation budget${plan.history !== undefined ? '; L-BFGS usually uses ~1.1 per iteration' : ''}), peak ${gb(plan.bytes)}\n`);
  return EXIT_CODES.ok;
}

function fmtSeconds(s: number): string {
  return s < 90 ? `${s.toFixed(1)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;
}

/** Runs the CLI on argv (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    if (argv.length === 0) {
      process.stderr.write(`${USAGE}\n\nRun 'impasto --help' for the options.\n`);
      return EXIT_CODES.usage;
    }
    if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      process.stdout.write(help());
      return EXIT_CODES.ok;
    }
    if (argv[0] === 'presets') {
      process.stdout.write(`${presetsTable()}\n`);
      return EXIT_CODES.ok;
    }
    if (argv[0] === 'score') return await runScore(argv.slice(1));
    if (argv[0] === 'plan') return await runPlan(argv.slice(1));
    if (argv[0] === 'demo') return await runStylize(argv.slice(1), 'demo');
    if (argv[0] === 'texture') return await runStylize(argv.slice(1), 'texture');
    if (argv[0] === 'batch') return await (await import('./batch.js')).runBatchCommand(argv.slice(1));
    if (argv[0] === 'video') return await (await import('./video.js')).runVideoCommand(argv.slice(1));
    if (argv[0] === 'worker') return await (await import('./worker.js')).runWorkerCommand(argv.slice(1));
    if (argv[0] === 'serve') return await (await import('./serve.js')).runServe(argv.slice(1));
    if (argv[0] === 'weights') return await (await import('./weights.js')).runWeights(argv.slice(1));
    return await runStylize(argv);
  } catch (err) {
    const code = exitCodeOf(err);
    process.stderr.write(`error: ${(err as Error).message}\n`);
    if (code === EXIT_CODES.unexpected && process.env.IMPASTO_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return code;
  }
}
