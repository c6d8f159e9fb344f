/**
 * Engine registry: adapters register under a name with a priority; `resolveEngine` returns the
 * first one that loads, and when none does, one error that lists why each failed. Registering is
 * lazy (a loader function), so importing this module has no side effects.
 */
import { Engine, EngineError } from './engine.js';
import { OptionError } from '../errors.js';

interface Entry {
  name: string;
  priority: number;
  load: () => Promise<Engine>;
}

const entries: Entry[] = [];
const loaded = new Map<string, Engine>();

/** Registers an engine loader; a higher priority is tried first. Re-registering a name replaces it. */
export function registerEngine(name: string, priority: number, load: () => Promise<Engine>): void {
  if (typeof name !== 'string' || name === '' || !Number.isFinite(priority) || typeof load !== 'function') {
    throw new OptionError(`registerEngine: expected a name (a non-empty string), a finite priority and a load function, received ${typeof name}, ${String(priority)}, ${typeof load}`);
  }
  const i = entries.findIndex((e) => e.name === name);
  if (i >= 0) entries.splice(i, 1);
  entries.push({ name, priority, load });
  entries.sort((a, b) => b.priority - a.priority);
}

/**
 * Returns the named engine, or the highest-priority one that loads.
 * @throws EngineError listing every engine tried and why it failed.
 */
export async function resolveEngine(name?: string): Promise<Engine> {
  const candidates = name ? entries.filter((e) => e.name === name) : entries;
  if (name && candidates.length === 0) {
    throw new EngineError(`unknown engine '${name}'; registered engines: ${entries.map((e) => e.name).join(', ') || 'none'}`);
  }
  const errors: string[] = [];
  for (const e of candidates) {
    const cached = loaded.get(e.name);
    if (cached) return cached;
    try {
      const engine = await e.load();
      loaded.set(e.name, engine);
      return engine;
    } catch (err) {
      errors.push(`${e.name}: ${(err as Error).message}`);
    }
  }
  throw new EngineError(`no engine could be loaded:\n  ${errors.join('\n  ')}`);
}

/** Names of the registered engines, highest priority first. */
export function listEngines(): string[] {
  return entries.map((e) => e.name);
}
