/** The flags of `impasto weights …`, apart from their implementation (cli/weights.ts), so that the help text loads nothing heavy. */
import type { FlagDef } from './args.js';

export const WEIGHTS_FLAGS: readonly FlagDef[] = [
  { name: 'source', kind: 'string', arg: 'NAME', doc: 'which published file: keras (default), torchvision, timm, caffe or onnx' },
  { name: 'url', kind: 'string', arg: 'URL', doc: 'fetch from this URL (a mirror) instead; needs --sha256 or --md5' },
  { name: 'sha256', kind: 'string', arg: 'HEX', doc: "the file's SHA-256, checked before it enters the cache" },
  { name: 'md5', kind: 'string', arg: 'HEX', doc: "the file's MD5, checked before it enters the cache" },
  { name: 'timeout', kind: 'number', arg: 'S', doc: 'give up when no byte arrives for S seconds (default 30)' },
  { name: 'name', kind: 'string', arg: 'NAME', doc: 'weights add: the architecture the file must be, vgg19 (default) or vgg16' },
];
