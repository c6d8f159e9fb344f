/**
 * The `impasto` command.
 *
 *   impasto <content> <style...> [-o out.png] [flags]     stylise (the main form)
 *   impasto score <image> --content C --style S [...]   print each loss term of an image
 *   impasto demo [-o impasto-demo.png] [...]            stylise the bundled scene with the bundled brush strokes, offline
 *   impasto weights fetch|list|verify                  the weight cache (see cli/weights.ts)
 *   impasto presets                                    the loss-normalisation table
 *
 * Exit codes: 0 done; 1 unexpected failure; 2 bad usage or option; 3 unreadable or invalid input
 * (image or weight file); 4 the loss became NaN (the last good image was written); 130
 * interrupted by Ctrl-C (the current image was written).
 */
import path from 'node:path';
import { formatOf, ImageError, writeImage } from '../src/image/io-node.js';
import { PRESETS } from '../src/losses/presets.js';
import { WeightFormatError } from '../src/networks/weights/load.js';
import { GraphBuildError } from '../src/graph/builder.js';
import { OptionError } from '../src/pipeline/options.js';
import { ImageInput, stylize, StylizeEvent } from '../src/pipeline/stylize.js';
import { demoContent, demoStyle } from '../src/demo/images.js';
import { score } from '../src/pipeline/score.js';
import { optionsHelp, parseArgs } from './args.js';
import { Progress } from './progress.js';
import { runWeights } from './weights.js';
import { WeightsCacheError } from '../src/networks/weights/cache.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, input: 3, nan: 4, interrupted: 130 } as const;

const USAGE = `Usage:
  impasto <content> <style...> [-o out.png] [options]   repaint a photo in the style of one or more paintings
  impasto score <image> --content C --style S [options] [--json]   print each loss term of an existing image
  impasto demo [-o impasto-demo.png] [options]           repaint a bundled scene with bundled brush strokes (offline)
  impasto weights fetch [vgg19|vgg16] [--source keras|torchvision|timm|caffe|onnx] [--url U --sha256 H]
  impasto weights list | verify                          the weight cache
  impasto presets                                        the loss normalisation of each reference tool

Exit codes: 0 done, 1 unexpected failure, 2 bad usage, 3 unreadable input or failed download, 4 loss became NaN (last good image written), 130 interrupted (current image written).`;

function help(): string {
  return `${USAGE}\n\nOptions:\n${optionsHelp()}\n`;
}

/** The presets table, in the paper's notation. */
export function presetsTable(): string {
  const rows = [['preset', 'content k_c', 'style k_l', 'vs paper', 'w_l', 'α', 'β', 'γ (TV)', 'layers (content; style)']];
  for (const p of Object.values(PRESETS)) {
    rows.push([p.name, p.contentFactorText, p.styleFactorText, p.styleVsPaper, p.styleLayerWeightText, String(p.alpha), String(p.beta), `${p.gamma} ${p.tv}`, `${p.contentLayers.join(',')}; ${p.styleLayers.join(',')}`]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
  lines.splice(1, 0, w.map((n) => '-'.repeat(n)).join('  '));
  return [
    'L = α·Σ_c u_c·k_c·Σ(F−P)² + β·Σ_l w_l·k_l·Σ(G−A)² + γ·TV,  N = channels, M = H·W, G = F·Fᵀ un-normalised',
    '',
    ...lines,
    '',
    ...Object.values(PRESETS).map((p) => `${p.name}: ${p.summary}. ${p.notes === 'none' ? '' : `Note: ${p.notes}.`}`),
  ].join('\n');
}

function exitCodeFor(err: unknown): number {
  if (err instanceof OptionError || err instanceof GraphBuildError) return EXIT.usage;
  if (err instanceof ImageError || err instanceof WeightFormatError || err instanceof WeightsCacheError) return EXIT.input;
  return EXIT.failure;
}

function snapshotName(output: string, iteration: number): string {
  const ext = path.extname(output);
  return `${output.slice(0, output.length - ext.length)}_${iteration}${ext}`;
}

async function runStylize(argv: string[], demo = false): Promise<number> {
  const args = parseArgs(argv);
  if (args.cli.help) {
    process.stdout.write(help());
    return EXIT.ok;
  }
  let content: ImageInput;
  let styles: ImageInput[];
  if (demo) {
    if (args.positionals.length) throw new OptionError(`demo takes no image names (it paints its own), received ${args.positionals.join(' ')}`);
    content = await demoContent();
    styles = [await demoStyle()];
  } else {
    if (args.positionals.length < 2) {
      throw new OptionError(`expected a content image and at least one style image, received ${args.positionals.length} file name${args.positionals.length === 1 ? '' : 's'}; usage: impasto <content> <style...> -o out.png`);
    }
    [content, ...styles] = args.positionals as [string, ...string[]];
  }
  const output = String(args.cli.output ?? (demo ? 'impasto-demo.png' : 'out.png'));
  formatOf(output); // fail before any work on an unwritable name
  const json = Boolean(args.cli.json);
  const snapshotEvery = Number(args.cli['snapshot-every'] ?? 0);
  const printEvery = Number(args.cli['print-every'] ?? 0);
  const quiet = Boolean(args.cli.quiet);
  const progress = new Progress(process.stderr, !json && !quiet && !printEvery);

  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    progress.note('interrupted: writing the current image (Ctrl-C again to quit at once)');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const pending: Promise<void>[] = [];
  const onEvent = (e: StylizeEvent) => {
    if (json) process.stdout.write(`${JSON.stringify(e.type === 'iterate' ? { ...e, image: undefined } : e)}\n`);
    if (e.type === 'notice' && !json && !quiet) progress.note(`note: ${e.message}`);
    if (e.type === 'start') progress.start(e.iterations, `${e.width}×${e.height}, ${e.network}, preset ${e.preset}${e.autoNormalised ? ' with auto-normalised layer weights' : ''}`);
    if (e.type === 'iterate') {
      progress.update(e.evaluations, e.loss, e.iteration);
      if (printEvery && e.iteration % printEvery === 0 && !json && !quiet) {
        process.stderr.write(`iteration ${e.iteration} (evaluations ${e.evaluations}): loss ${e.loss.toExponential(4)}  ${Object.entries(e.terms).map(([k, v]) => `${k} ${v.toExponential(3)}`).join('  ')}\n`);
      }
      if (e.image && snapshotEvery) pending.push(writeImage(snapshotName(output, e.iteration), e.image));
    }
  };
  try {
    const result = await stylize({ ...args.options, content, style: styles, imageEvery: snapshotEvery || args.options.imageEvery || 0 }, { onEvent, signal: ac.signal });
    await Promise.all(pending);
    await writeImage(output, result.image);
    progress.finish();
    const summary = { type: 'result', output, loss: result.loss, initialLoss: result.initialLoss, terms: result.terms, iterations: result.iterations, evaluations: result.evaluations, stopReason: result.stopReason };
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!quiet) process.stderr.write(`wrote ${output}: loss ${result.initialLoss.toExponential(3)} → ${result.loss.toExponential(3)} in ${result.evaluations} evaluations (${result.stopReason})\n`);
    if (result.stopReason === 'nan') {
      process.stderr.write(`error: the loss became NaN or infinite at evaluation ${result.evaluations + 1}; ${output} holds the last good image. Lower --style-weight/--learning-rate or check the weight file for NaNs\n`);
      return EXIT.nan;
    }
    return result.stopReason === 'aborted' ? EXIT.interrupted : EXIT.ok;
  } finally {
    progress.finish();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

async function runScore(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['content', 'style']);
  if (args.cli.help) {
    process.stdout.write(help());
    return EXIT.ok;
  }
  if (args.positionals.length !== 1) throw new OptionError(`score expects one image to score, received ${args.positionals.length}; usage: impasto score <image> --content C --style S`);
  if (!args.cli.content || !args.cli.style) throw new OptionError('score needs --content FILE and --style FILE (comma-separate several styles)');
  const r = await score({
    ...args.options, image: args.positionals[0]!, content: String(args.cli.content), style: String(args.cli.style).split(','),
  }, { onNotice: (m) => { if (!args.cli.json) process.stderr.write(`note: ${m}\n`); } });
  if (args.cli.json) {
    process.stdout.write(`${JSON.stringify({ total: r.total, content: r.content, style: r.style, tv: r.tv })}\n`);
  } else {
    process.stdout.write(`image ${r.width}×${r.height}, preset ${args.options.preset ?? 'paper'}\n`);
    process.stdout.write(`total    ${r.total.toExponential(6)}\ncontent  ${r.content.toExponential(6)}\n`);
    for (const [k, v] of Object.entries(r.style)) process.stdout.write(`style ${k.padEnd(8)} ${v.toExponential(6)}\n`);
    process.stdout.write(`tv       ${r.tv.toExponential(6)}\n`);
  }
  return EXIT.ok;
}

/** Runs the CLI on argv (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    if (argv.length === 0) {
      process.stderr.write(`${USAGE}\n\nRun 'impasto --help' for the options.\n`);
      return EXIT.usage;
    }
    if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      process.stdout.write(help());
      return EXIT.ok;
    }
    if (argv[0] === 'presets') {
      process.stdout.write(`${presetsTable()}\n`);
      return EXIT.ok;
    }
    if (argv[0] === 'score') return await runScore(argv.slice(1));
    if (argv[0] === 'demo') return await runStylize(argv.slice(1), true);
    if (argv[0] === 'weights') return await runWeights(argv.slice(1));
    return await runStylize(argv);
  } catch (err) {
    const code = exitCodeFor(err);
    process.stderr.write(`error: ${(err as Error).message}\n`);
    if (code === EXIT.failure && process.env.IMPASTO_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return code;
  }
}
