/** `impasto batch`'s own flags (here, apart from cli/batch.ts, so that the help text loads no queue). */
import type { FlagDef } from './args.js';

export const BATCH_FLAGS: readonly FlagDef[] = [
  { name: 'content', kind: 'string', arg: 'PATH,…', doc: 'content images or folders of them (comma-separated)' },
  { name: 'style', kind: 'string', arg: 'PATH,…', doc: 'style images or folders; each content is paired with each style' },
  { name: 'manifest', kind: 'string', arg: 'FILE', doc: 'a JSON array of rows {content, style, options?, output?} instead of --content/--style' },
  { name: 'output', short: 'o', kind: 'string', arg: 'DIR', doc: 'the output folder (created); finished outputs found there are skipped' },
  { name: 'sweep', kind: 'string', arg: 'KEY=V,…', doc: 'one job per value of a numeric option, e.g. style-weight=1e2,1e3,1e4' },
  { name: 'concurrency', kind: 'int', arg: 'N', doc: 'jobs at once, each in its own worker thread (default 1)' },
  { name: 'format', kind: 'string', arg: 'EXT', doc: 'output format of the derived names: png (default), jpg, webp, tif' },
  { name: 'queue', kind: 'string', arg: 'URL', doc: "run the jobs on workers through Redis (redis://HOST:PORT; 'impasto worker' takes them) instead of in this process" },
  { name: 'json', kind: 'boolean', doc: 'one JSON object per line on stdout: batch-start, each job, progress, summary' },
  { name: 'quiet', short: 'q', kind: 'boolean', doc: 'no progress output' },
];
