/**
 * The `impasto` command.
 *
 *   impasto <content> <style...> [-o out.png] [flags]     stylise (the main form)
 *   impasto score <image> --content C --style S [...]   print each loss term of an image
 *   impasto demo [-o impasto-demo.png] [...]            stylise the bundled scene with the bundled brush strokes, offline
 *   impasto weights fetch|list|verify                  the weight cache (see cli/weights.ts)
 *   impasto presets                                    the loss-normalisation table
 *
 * Exit codes: the table in src/errors.ts (0 done, 1 unexpected, 2 usage, 3 input, 4 NaN, 130
 * interrupted). Every subcommand parses with cli/args.ts and shows progress with cli/progress.ts.
 */
import path from 'node:path';
import { EXIT_CODES, exitCodeOf } from '../src/errors.js';
import { checkOutputPath, writeImage } from '../src/image/io-node.js';
import { CONTENT_NORMALISATIONS } from '../src/losses/content.js';
import { GRAM_NORMALISATIONS } from '../src/losses/gram-style.js';
import { PRESETS } from '../src/losses/presets.js';
import { OptionError } from '../src/pipeline/options.js';
import { ImageInput, stylize, StylizeEvent } from '../src/pipeline/stylize.js';
import { demoContent, demoStyle } from '../src/demo/images.js';
import { score } from '../src/pipeline/score.js';
import { FlagDef, flagsHelp, parseArgs } from './args.js';
import { Progress } from './progress.js';
import { runWeights, WEIGHTS_FLAGS } from './weights.js';

/** Output file names when `-o` is not given. */
const DEFAULT_OUTPUT = { stylize: 'out.png', demo: 'impasto-demo.png' } as const;

const STYLIZE_FLAGS: readonly FlagDef[] = [
  { name: 'output', short: 'o', kind: 'string', arg: 'FILE', doc: `output image (.png, .jpg, .webp, .tif); default ${DEFAULT_OUTPUT.stylize} (demo: ${DEFAULT_OUTPUT.demo})` },
  { name: 'json', kind: 'boolean', doc: 'machine-readable output: one JSON object per line on stdout' },
  { name: 'snapshot-every', kind: 'int', doc: 'also write the current image every N iterations, as <output>_<N>.<ext>' },
  { name: 'print-every', kind: 'int', doc: 'print the loss and terms every N iterations (instead of a progress bar)' },
  { name: 'quiet', short: 'q', kind: 'boolean', doc: 'no progress output' },
];

const SCORE_FLAGS: readonly FlagDef[] = [
  { name: 'content', kind: 'string', arg: 'FILE', doc: 'the content image the score compares with' },
  { name: 'style', kind: 'string', arg: 'FILE,…', doc: 'the style image(s), comma-separated' },
  { name: 'json', kind: 'boolean', doc: 'print {"total","content","style":{layer: term},"tv"} as JSON' },
];

const USAGE = `Usage:
  impasto <content> <style...> [-o ${DEFAULT_OUTPUT.stylize}] [options]   repaint a photo in the style of one or more paintings
  impasto score <image> --content C --style S [options] [--json]   print each loss term of an existing image
  impasto demo [-o ${DEFAULT_OUTPUT.demo}] [options]           repaint a bundled scene with bundled brush strokes (offline)
  impasto weights fetch [vgg19|vgg16] [--source keras|torchvision|timm|caffe|onnx] [--url U --sha256 H | --md5 H] [--timeout S]
  impasto weights list | verify                          the weight cache
  impasto presets                                        the loss normalisation of each reference tool

Exit codes: 0 done, 1 unexpected failure (a bug), 2 bad usage, 3 unreadable input or failed download, 4 loss became NaN (last good image written), 130 interrupted (current image written).`;

function help(): string {
  return `${USAGE}\n\nOptions (stylise, demo and score):\n${flagsHelp(STYLIZE_FLAGS)}\n\nscore also takes:\n${flagsHelp(SCORE_FLAGS, false)}\n\nweights fetch takes:\n${flagsHelp(WEIGHTS_FLAGS, false)}\n`;
}

/** The presets table, in the paper's notation. */
export function presetsTable(): string {
  const rows = [['preset', 'content k_c', 'style k_l', 'vs paper', 'w_l', 'α', 'β', 'γ (TV)', 'pool', 'layers (content; style)']];
  for (const p of Object.values(PRESETS)) {
    const g = GRAM_NORMALISATIONS[p.gram];
    rows.push([p.name, CONTENT_NORMALISATIONS[p.content].text, g.text, g.vsPaper, p.styleLayerWeightText, String(p.alpha), String(p.beta), `${p.gamma} ${p.tv}`, p.pooling, `${p.contentLayers.join(',')}; ${p.styleLayers.join(',')}`]);
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

function snapshotName(output: string, iteration: number): string {
  const ext = path.extname(output);
  return `${output.slice(0, output.length - ext.length)}_${iteration}${ext}`;
}

async function runStylize(argv: string[], demo = false): Promise<number> {
  const args = parseArgs(argv, STYLIZE_FLAGS);
  if (args.flags.help) {
    process.stdout.write(help());
    return EXIT_CODES.ok;
  }
  let content: ImageInput;
  let styles: ImageInput[];
  if (demo) {
    if (args.positionals.length) throw new OptionError(`demo takes no image names (it paints its own), received ${args.positionals.join(' ')}`);
    content = await demoContent();
    styles = [await demoStyle()];
  } else {
    if (args.positionals.length < 2) {
      throw new OptionError(`expected a content image and at least one style image, received ${args.positionals.length} file name${args.positionals.length === 1 ? '' : 's'}; usage: impasto <content> <style...> -o ${DEFAULT_OUTPUT.stylize}`);
    }
    [content, ...styles] = args.positionals as [string, ...string[]];
  }
  const output = String(args.flags.output ?? (demo ? DEFAULT_OUTPUT.demo : DEFAULT_OUTPUT.stylize));
  await checkOutputPath(output); // fail before any work on a name that cannot be written
  const json = Boolean(args.flags.json);
  const snapshotEvery = Number(args.flags['snapshot-every'] ?? 0);
  const printEvery = Number(args.flags['print-every'] ?? 0);
  const quiet = Boolean(args.flags.quiet);
  const progress = new Progress(process.stderr, {
    enabled: !json && !quiet && !printEvery,
    format: (done, total) => `${done}/${total} evaluations`,
  });

  const ac = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_CODES.interrupted);
    progress.note('interrupted: writing the current image (Ctrl-C again to quit at once)');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const pending: Promise<void>[] = [];
  const onEvent = (e: StylizeEvent) => {
    if (json) process.stdout.write(`${JSON.stringify(e.type === 'iterate' ? { ...e, image: undefined } : e)}\n`);
    if (e.type === 'notice' && !json && !quiet) progress.note(`note: ${e.message}`);
    if (e.type === 'start') {
      progress.start(e.evaluations, `${e.width}×${e.height}, ${e.network}, preset ${e.preset}, ${e.styleLoss} style loss${e.autoNormalised ? ', auto-normalised layer weights' : ''}`);
    }
    if (e.type === 'iterate') {
      progress.update(e.evaluations, `iteration ${e.iteration}, loss ${e.loss.toExponential(3)}`);
      if (printEvery && e.iteration % printEvery === 0 && !json && !quiet) {
        process.stderr.write(`iteration ${e.iteration} (evaluations ${e.evaluations}): loss ${e.loss.toExponential(4)}  ${Object.entries(e.terms).map(([k, v]) => `${k} ${v.toExponential(3)}`).join('  ')}\n`);
      }
      if (e.image && snapshotEvery) {
        const file = snapshotName(output, e.iteration);
        pending.push(writeImage(file, e.image).catch((err: Error) => progress.note(`warning: snapshot not written: ${err.message}`)));
      }
    }
  };
  try {
    const result = await stylize({ ...args.options, content, style: styles, imageEvery: snapshotEvery || args.options.imageEvery || 0 }, { onEvent, signal: ac.signal });
    await Promise.all(pending);
    await writeImage(output, result.image);
    progress.finish();
    const summary = { type: 'result', output, loss: result.loss, initialLoss: result.initialLoss, terms: result.terms, iterations: result.iterations, evaluations: result.evaluations, stopReason: result.stopReason };
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!quiet) process.stderr.write(`wrote ${output}: loss ${result.initialLoss.toExponential(3)} → ${result.loss.toExponential(3)} in ${result.iterations} iterations, ${result.evaluations} evaluations (${result.stopReason})\n`);
    if (result.stopReason === 'nan') {
      process.stderr.write(`error: the loss became NaN or infinite (after ${result.iterations} iterations, ${result.evaluations} evaluations); ${output} holds the last good image. Lower --style-weight/--learning-rate or check the weight file for NaNs\n`);
      return EXIT_CODES.nan;
    }
    return result.stopReason === 'aborted' ? EXIT_CODES.interrupted : EXIT_CODES.ok;
  } finally {
    progress.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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
  const r = await score({
    ...args.options, image: args.positionals[0]!, content: String(args.flags.content), style: String(args.flags.style).split(','),
  }, { onNotice: (m) => { if (!json) progress.note(`note: ${m}`); } });
  if (json) {
    process.stdout.write(`${JSON.stringify({ total: r.total, content: r.content, style: r.style, tv: r.tv })}\n`);
  } else {
    process.stdout.write(`image ${r.width}×${r.height}, preset ${r.preset}, ${r.styleLoss} style loss\n`);
    process.stdout.write(`total    ${r.total.toExponential(6)}\ncontent  ${r.content.toExponential(6)}\n`);
    for (const [k, v] of Object.entries(r.style)) process.stdout.write(`style ${k.padEnd(8)} ${v.toExponential(6)}\n`);
    process.stdout.write(`tv       ${r.tv.toExponential(6)}\n`);
  }
  return EXIT_CODES.ok;
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
    if (argv[0] === 'demo') return await runStylize(argv.slice(1), true);
    if (argv[0] === 'weights') return await runWeights(argv.slice(1));
    return await runStylize(argv);
  } catch (err) {
    const code = exitCodeOf(err);
    process.stderr.write(`error: ${(err as Error).message}\n`);
    if (code === EXIT_CODES.unexpected && process.env.IMPASTO_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return code;
  }
}
