/**
 * Builds the browser bundle of the library for the page's "Run on this device":
 * web/src/device-worker.ts → dist/web/device-worker.js (one ES module, for a module Web Worker).
 *
 * The library is bundled as it is, with three substitutions (the only differences from Node):
 * - src/image/io-node.ts → src/image/io-browser.ts (canvas and ImageBitmap instead of sharp);
 * - `onnxruntime-web` → the server's copy at /ort/ort.min.mjs (loaded at run time, not bundled);
 * - Node built-ins, sharp, h5wasm and onnxruntime-node → a stand-in that throws "not available in
 *   the browser" when used: the paths that use them (weight files, checkpoints, the Node engine)
 *   are not reachable from the worker.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const browser = {
  name: 'impasto-browser',
  setup(build) {
    build.onResolve({ filter: /\/io-node\.js$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path.replace(/io-node\.js$/, 'io-browser.ts')) }));
    build.onResolve({ filter: /^onnxruntime-web$/ }, () => ({ path: '/ort/ort.min.mjs', external: true }));
    build.onResolve({ filter: /^(node:.*|sharp|h5wasm|onnxruntime-node)$/ }, (args) => ({ path: args.path, namespace: 'unavailable' }));
    build.onLoad({ filter: /.*/, namespace: 'unavailable' }, (args) => ({
      loader: 'js',
      contents: `const fail = () => { throw new Error(${JSON.stringify(`${args.path} is not available in the browser`)}); };
const stand = new Proxy(function () {}, { get: (_t, k) => (k === 'then' || typeof k === 'symbol' ? undefined : stand), apply: fail, construct: fail });
module.exports = stand;`,
    }));
  },
};

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['web/src/device-worker.ts'],
  outfile: 'dist/web/device-worker.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [browser],
});
const out = result.metafile.outputs['dist/web/device-worker.js'];
process.stderr.write(`built dist/web/device-worker.js (${(out.bytes / 1024).toFixed(0)} KB)\n`);
