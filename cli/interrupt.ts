/**
 * Ctrl-C and SIGTERM for a long command: the first signal aborts `signal` (the command then stops
 * cleanly and saves what it has) after `onFirst` says so; with `exitOnSecond`, a second signal
 * exits at once with code 130. `dispose` removes the handlers.
 */
import { EXIT_CODES } from '../src/errors.js';

export function interruptible(onFirst: () => void, exitOnSecond = false): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) {
      if (exitOnSecond) process.exit(EXIT_CODES.interrupted);
      return;
    }
    onFirst();
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
