/**
 * Engine entry point: registers the bundled adapters lazily and re-exports the interface.
 * Nothing is loaded until `resolveEngine` is called.
 */
import { registerEngine } from './registry.js';

registerEngine('node', 100, async () => (await import('./node.js')).loadNodeEngine());
registerEngine('web', 10, async () => (await import('./web.js')).loadWebEngine());

export * from './engine.js';
export { registerEngine, resolveEngine, listEngines } from './registry.js';
