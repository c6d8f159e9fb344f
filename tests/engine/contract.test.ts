/**
 * The engine contract: every registered engine runs the same objective graph (VGG-19-shaped
 * network, content + Gram style + TV, 100×75 px, average and max pooling) and matches the PyTorch
 * float64 reference. onnxruntime-web runs its wasm build here (no GPU, no browser).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { listEngines, resolveEngine } from '../../src/engine/index.js';
import { readSafetensors } from '../../src/networks/weights/safetensors.js';
import { loadWeightsFile } from '../../src/networks/weights/load.js';
import { vggNet } from '../../src/networks/vgg.js';
import { contentUnit } from '../../src/losses/content.js';
import { gramStyle } from '../../src/losses/gram-style.js';
import { computeTargets, StyleProblem } from '../../src/pipeline/problem.js';
import { relL2 } from '../helpers.js';

const dir = fileURLToPath(new URL('../fixtures/reference/', import.meta.url));

for (const engineName of listEngines()) {
  for (const pooling of ['avg', 'max']) {
    test(`${engineName} engine: ${pooling}-pool objective matches torch float64 (loss and each term ≤ 1e-5, gradient ≤ 1e-5)`, async () => {
      const engine = await resolveEngine(engineName);
      const { tensors, metadata } = readSafetensors(await readFile(`${dir}case-${pooling}.safetensors`), pooling);
      const s = JSON.parse(metadata.settings!);
      const img = (k: string) => ({ data: tensors.get(k)!.data, height: tensors.get(k)!.shape[2]!, width: tensors.get(k)!.shape[3]! });
      const spec = {
        net: vggNet(await loadWeightsFile(`${dir}net-${pooling}.safetensors`), s.pooling), height: s.height, width: s.width,
        content: s.content.map((c: { layer: string; weight: number }) => ({ ...c, unit: contentUnit('half-sum') })),
        style: s.style.map((c: { layer: string; weight: number }) => ({ ...c, unit: gramStyle('paper') })),
        alpha: s.alpha, beta: s.beta, gamma: s.gamma, tv: s.tv,
      };
      const targeted = await computeTargets(engine, spec, img('content'), [{ image: img('style'), weight: 1 }], { threads: 1 });
      const problem = await StyleProblem.create(engine, targeted, { threads: 1 });
      const ev = await problem.evaluate(img('image').data);
      await problem.dispose();
      const lossErr = Math.abs(ev.loss - s.loss) / Math.abs(s.loss);
      const gradErr = relL2(ev.grad, tensors.get('grad')!.data);
      assert.ok(lossErr <= 1e-5, `loss rel. error ${lossErr}`);
      for (const [k, ref] of Object.entries(s.terms as Record<string, number>)) {
        const err = Math.abs(ev.terms[k]! - ref) / Math.abs(ref);
        assert.ok(err <= 1e-5, `term ${k}: ${ev.terms[k]} vs torch ${ref} (rel. ${err})`);
      }
      assert.ok(gradErr <= 1e-5, `gradient rel. L2 error ${gradErr}`);
      console.log(`# ${engineName} ${pooling}: loss ${lossErr.toExponential(2)}, gradient ${gradErr.toExponential(2)}`);
    });
  }
}
