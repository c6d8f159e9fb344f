/** `impasto serve`'s flags (here, apart from cli/serve.ts, so that the help text does not load the server). */
import { DEFAULT_LIMITS } from '../server/limits.js';
import type { FlagDef } from './args.js';

export const SERVE_FLAGS: readonly FlagDef[] = [
  { name: 'port', kind: 'int', min: 0, arg: 'N', doc: 'TCP port (0: any free one; default 8080)' },
  { name: 'host', kind: 'string', arg: 'ADDR', doc: 'address to bind (default 127.0.0.1: this machine only)' },
  { name: 'jobs', kind: 'int', arg: 'N', doc: 'jobs running at once, each in its own worker thread (default 1)' },
  { name: 'queue', kind: 'string', arg: 'URL', doc: 'run jobs on `impasto worker`s through this Redis, redis://HOST:PORT, not on this machine' },
  { name: 'queue-size', kind: 'int', min: 0, arg: 'N', doc: 'jobs waiting at most; more are refused with 429 (default 8)' },
  { name: 'max-upload-mb', kind: 'number', arg: 'MB', doc: `largest upload per file (default ${DEFAULT_LIMITS.maxUploadBytes / 1024 / 1024})` },
  { name: 'max-pixels', kind: 'int', arg: 'N', doc: `largest input image in pixels (default ${DEFAULT_LIMITS.maxPixels})` },
  { name: 'max-size', kind: 'int', min: 16, arg: 'PX', doc: `largest output side a job may ask for (default ${DEFAULT_LIMITS.maxSize})` },
  { name: 'keep-hours', kind: 'number', arg: 'H', doc: 'finished jobs and their images are removed after this long (default 24)' },
  { name: 'preview-every', kind: 'int', arg: 'N', doc: 'a preview image every N iterations (default 5)' },
  { name: 'max-memory', kind: 'number', arg: 'GB', doc: 'memory budget of all running jobs together (default: available memory less 10 % of the machine)' },
  { name: 'threads', kind: 'int', arg: 'N', doc: 'ONNX Runtime threads per job (default: the cores shared among --jobs)' },
];
