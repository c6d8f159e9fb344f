/**
 * The whole network against PyTorch float64 autograd (fixtures from tools/fixtures/make_reference.py):
 * a VGG-19-shaped network (16 convs, 5 pools, narrow channels) with seeded random weights read
 * from safetensors, content + Gram style + TV on the standard layers, at an odd size (100×75),
 * with average pooling (torchvision keys and preprocessing) and max pooling (canonical keys, Caffe
 * preprocessing), and style images of another size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../src/networks/weights/safetensors.js';
import { loadWeightsFile } from '../../src/networks/weights/load.js';
import { vggNet } from '../../src/networks/vgg.js';
import { computeTargets, StyleProblem } from '../../src/pipeline/problem.js';
import { PRESETS } from '../../src/losses/presets.js';
import { resolveEngine } from '../../src/engine/index.js';
import { relL2 } from '../helpers.js';

const dir = fileURLToPath(new URL('../fixtures/reference/', import.meta.url));

for (const name of ['avg', 'max']) {
  test(`VGG-19-shaped network, ${name} pooling, 100×75: loss and gradient match torch float64 within 1e-5`, async () => {
    const { tensors, metadata } = readSafetensors(await readFile(`${dir}case-${name}.safetensors`), name);
    const s = JSON.parse(metadata.settings!);
    const weights = await loadWeightsFile(`${dir}net-${name}.safetensors`);
    assert.equal(weights.arch, 'vgg19');
    assert.equal(weights.preprocess.name, s.preprocess);
    const engine = await resolveEngine('node');
    const img = (k: string) => {
      const t = tensors.get(k)!;
      return { data: t.data, height: t.shape[2]!, width: t.shape[3]! };
    };
    const spec = {
      net: vggNet(weights, s.pooling), height: s.height, width: s.width, content: s.content, style: s.style,
      contentFactor: PRESETS.paper.contentFactor, styleFactor: PRESETS.paper.styleFactor,
      alpha: s.alpha, beta: s.beta, gamma: s.gamma, tv: s.tv,
    };
    const targets = await computeTargets(engine, spec, img('content'), [{ image: img('style'), weight: 1 }], { threads: 1 });
    const problem = await StyleProblem.create(engine, spec, targets, { threads: 1 });
    const ev = await problem.evaluate(img('image').data);
    await problem.dispose();

    const lossErr = Math.abs(ev.loss - s.loss) / Math.abs(s.loss);
    assert.ok(lossErr <= 1e-5, `loss ${ev.loss} vs torch ${s.loss}: rel ${lossErr}`);
    for (const [k, ref] of Object.entries(s.terms as Record<string, number>)) {
      const err = Math.abs(ev.terms[k]! - ref) / Math.abs(ref);
      assert.ok(err <= 1e-5, `term ${k}: ${ev.terms[k]} vs torch ${ref}: rel ${err}`);
    }
    const gradErr = relL2(ev.grad, tensors.get('grad')!.data);
    assert.ok(gradErr <= 1e-5, `gradient relative L2 error ${gradErr}`);
    console.log(`# ${name}: loss rel err ${lossErr.toExponential(2)}, grad rel L2 err ${gradErr.toExponential(2)}`);
  });
}
