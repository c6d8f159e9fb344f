/**
 * A short seeded run of the loader fuzzer (tools/fuzz/loaders.ts runs 10,000 cases per loader):
 * 150 mutated copies of a valid small file per format, each parsed in a worker under a 5 s and
 * 1 GB cap. Every case must parse or be refused with a WeightFormatError naming the file: no
 * other error, no hang, no crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fuzz } from '../../tools/fuzz/core.js';
import { seedFiles } from '../../tools/fuzz/seeds.js';

test('loader fuzzing, seeded, 150 cases per format: only parses and typed refusals', async () => {
  const loadModule = pathToFileURL(fileURLToPath(new URL('../../src/networks/weights/load.ts', import.meta.url))).href;
  for (const [loader, bytes] of await seedFiles()) {
    const r = await fuzz(loader, bytes, 150, 11, { loadModule, tsxApi: import.meta.resolve('tsx/esm/api') });
    console.log(`# fuzz ${loader}: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    assert.equal(r.counts.untyped + r.counts.hang + r.counts.crash, 0, `${loader}: ${JSON.stringify(r.examples.filter((e) => e.outcome !== 'wrapped'))}`);
    assert.ok(r.counts.typed + r.counts.wrapped > 0, `${loader}: the mutations were refused at least sometimes (the fuzzer reaches the parser)`);
  }
});
