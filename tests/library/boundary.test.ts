/**
 * The library's smaller exports check their arguments where they enter: each bad argument is an
 * OptionError (exit code 2 in the CLI) naming the function or the argument, thrown before any
 * work (no connection, no thread, no allocation from the argument).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import {
  LocalQueue, RedisQueue, layerNames, loadWeightsFile, planSize, randomVggWeights, readCheckpoint, readImage, registerEngine, runWorker, styleWeightOf,
  validateOptions, vggLayers,
} from '../../src/index.js';
import { exitCodeOf } from '../../src/errors.js';

/** Asserts that `run` throws (or rejects with) an OptionError whose message matches. */
async function refuses(run: () => unknown, message: RegExp): Promise<void> {
  let err: unknown = null;
  try {
    await run();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Error && err.name === 'OptionError' && exitCodeOf(err) === 2, `an OptionError, not ${String(err)}`);
  assert.match((err as Error).message, message);
}

test('the networks, the file readers, the strength map and the option helpers refuse bad arguments by name', async () => {
  await refuses(() => vggLayers('vgg20' as never), /^unknown architecture "vgg20": expected vgg19 or vgg16$/);
  await refuses(() => layerNames('__proto__' as never), /unknown architecture "__proto__"/);
  await refuses(() => vggLayers('vgg19', [64, 128, 256, 512]), /^invalid VGG widths \[64,128,256,512\]: expected five channel counts/);
  await refuses(() => randomVggWeights('vgg19', NaN), /^invalid seed NaN: expected a finite number$/);
  await refuses(() => styleWeightOf(1.5, 'vgg', true, 1e3), /^invalid strength 1\.5: expected a number from 0 to 1$/);
  await refuses(() => styleWeightOf(0.5, 'resnet' as never, true, 1e3), /^unknown network family "resnet"/);
  await refuses(() => styleWeightOf(0.5, 'vgg', false, -1), /^invalid preset β -1/);
  await refuses(() => validateOptions(null as never), /^validateOptions: expected an options object, received null$/);
  await refuses(() => planSize({ width: 0, height: 10 }, { size: 64 }), /^planSize: expected the content's \{ width, height \} in px/);
  await refuses(() => planSize({ width: 10, height: 10 }, { size: 8 }), /^invalid size: expected an integer ≥ 16/);
  await refuses(() => registerEngine('', 1, async () => { throw new Error('never loaded'); }), /^registerEngine: expected a name/);
  await refuses(() => readImage({} as never), /^readImage: expected a file path, received object$/);
  await refuses(() => loadWeightsFile('' as never), /^loadWeightsFile: expected a file path, received an empty string$/);
  await refuses(() => readCheckpoint(5 as never), /^readCheckpoint: expected a file path, received number$/);
  await refuses(() => validateOptions({ size: 64, area: 100_000 }), /^give the output's size one way, not size 64 and area 100000: size \(the longest side\)/);
  await refuses(() => validateOptions({ size: 64, width: 64 }), /^give the output's size one way, not size 64 and width 64/);
  await refuses(() => validateOptions({ area: 100_000, height: 40 }), /not area 100000 and height 40/);
  assert.deepEqual([validateOptions({ width: 64, height: 32 }).width, validateOptions({ area: 100_000 }).area], [64, 100_000], 'one way at a time is accepted');
  assert.deepEqual(planSize({ width: 800, height: 600 }, { area: 120_000 }), { width: 400, height: 300 }, 'area, with no size given');
  // the well-formed calls still answer
  assert.equal(layerNames('vgg16').filter((n) => n.startsWith('conv')).length, 13);
  assert.deepEqual(planSize({ width: 800, height: 600 }, {}), { width: 384, height: 288 }, 'size 384 by default');
  assert.ok(styleWeightOf(0, 'vgg', true, 1e3) < styleWeightOf(1, 'vgg', true, 1e3));
});

test('the queues refuse bad options and URLs before they start a thread or open a connection', async () => {
  const ok = { jobs: 1, queueSize: 1, dir: os.tmpdir(), keepMs: 1000, maxPixels: 1e6, imageEvery: 0 };
  await refuses(() => new LocalQueue({ ...ok, jobs: 0 }), /^LocalQueue: invalid jobs: expected an integer ≥ 1, received 0$/);
  await refuses(() => new LocalQueue({ ...ok, keepMs: NaN }), /^LocalQueue: invalid keepMs: expected a number of ms > 0, received NaN$/);
  await refuses(() => new LocalQueue({ ...ok, dir: '' }), /^LocalQueue: invalid dir: expected a folder path/);
  await refuses(() => new LocalQueue({ ...ok, threads: 1.5 }), /^LocalQueue: invalid threads/);
  await refuses(() => new LocalQueue(null as never), /^LocalQueue: invalid jobs/);
  for (const url of ['http://localhost:6379', 'redis://', 'not a url', 'redis://localhost:6379/x']) {
    await refuses(() => new RedisQueue(url, { queueSize: 1 }), /^invalid --queue .*: expected redis:\/\/HOST:PORT \(optionally \/DB, a number\)$/);
  }
  await refuses(() => runWorker(5 as never, 1, null as never), /^invalid --queue number/);
  await refuses(() => runWorker('redis://127.0.0.1:1', 0, null as never), /^runWorker: invalid concurrency 0: expected an integer ≥ 1$/);
  await refuses(() => runWorker('redis://127.0.0.1:1', 1, {} as never), /^runWorker: expected a LocalQueue/);
});
