/**
 * Fuzzes every weight loader: `count` seeded mutations of a valid small file per format (see
 * core.ts for the mutations and outcomes), and prints the count by outcome with examples of bad
 * ones. Exits 1 when any case is untyped, hung or crashed.
 *
 * Usage: npx tsx tools/fuzz/loaders.ts [--count 10000] [--seed 1] [--only safetensors,keras-h5,…]
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fuzz } from './core.js';
import { seedFiles } from './seeds.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const count = Number(opt('count', '10000'));
const seed = Number(opt('seed', '1'));
const only = opt('only', '');
const loadModule = pathToFileURL(fileURLToPath(new URL('../../src/networks/weights/load.ts', import.meta.url))).href;

let bad = 0;
for (const [loader, bytes] of await seedFiles()) {
  if (only && !only.split(',').includes(loader)) continue;
  const t0 = performance.now();
  const r = await fuzz(loader, bytes, count, seed, { loadModule, tsxApi: import.meta.resolve('tsx/esm/api') });
  const s = ((performance.now() - t0) / 1000).toFixed(0);
  console.log(`${loader.padEnd(13)} ${count} cases, seed ${bytes.length} bytes, ${s} s: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const e of r.examples) console.log(`  ${e.outcome}: ${e.mutation}: ${e.message}`);
  bad += r.counts.untyped + r.counts.hang + r.counts.crash;
}
process.exit(bad ? 1 : 0);
