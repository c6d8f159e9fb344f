/**
 * Keras HDF5 weight files (`vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` and re-saved
 * models), read through h5wasm the way Keras reads them: the root attribute `layer_names` (or its
 * split parts `layer_names0`, `layer_names1`, …), then per layer group its `weight_names`, kernel
 * first and bias second. This accepts all three naming styles (Keras 1 `block1_conv1_W_1:0`,
 * Keras 2 `block1_conv1/kernel:0` under `model_weights/`, Keras 3 `block1_conv1/kernel`).
 * Kernels are stored (kh, kw, in, out) and are transposed to OIHW. Keras VGG expects Caffe input.
 *
 * Untrusted files: HDF5 can point outside itself (external links to other files, external
 * storage of a dataset's bytes in any file, virtual datasets mapping other files). The file's
 * bytes are therefore opened from h5wasm's in-memory file system, which holds that file and
 * nothing else (its device nodes are removed), so no reference can reach the machine's files, a
 * FIFO or a device; external links, broken soft links and virtual datasets are refused by name
 * before any dataset is read, and datasets must be float16/32/64 of a size the file can hold.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { NamedTensor, WeightFormatError } from './safetensors.js';

/** HDF5's 8-byte signature. */
export const HDF5_MAGIC = Uint8Array.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isHdf5(buf: Uint8Array): boolean {
  return buf.length >= 8 && HDF5_MAGIC.every((b, i) => buf[i] === b);
}

type H5 = typeof import('h5wasm');

/** h5wasm's browser build: its file system is in memory, separate from the machine's. */
async function h5(): Promise<H5 & { FS: NonNullable<H5['FS']> }> {
  const lib = (await import('h5wasm')) as unknown as H5;
  await lib.ready;
  const fs = lib.FS!;
  // Nothing but the files written here: no device nodes for a reference to land on.
  for (const dev of ['/dev/random', '/dev/urandom', '/dev/null', '/dev/zero', '/dev/tty', '/dev/tty1']) {
    try {
      fs.unlink(dev);
    } catch {
      // absent already
    }
  }
  // A tripwire on the in-memory file system: HDF5 opens a dataset's external storage file when the
  // dataset is read. Any open of a path but the one file written here fails (ENOENT) and is
  // recorded, so the loader can name it; nothing of the machine's is reachable in any case.
  if (!tripwire) {
    const fsAny = fs as unknown as { open: (...a: unknown[]) => unknown; ErrnoError: new (errno: number) => Error };
    const open = fsAny.open.bind(fs);
    fsAny.open = (p: unknown, ...rest: unknown[]) => {
      const name = typeof p === 'string' ? p : String(p);
      // /tmp of the in-memory file system is HDF5's own scratch (its error handler writes there).
      if (allowedPath !== null && name !== allowedPath && !name.startsWith('/tmp/')) {
        attempts.push(name);
        throw new fsAny.ErrnoError(44); // ENOENT in Emscripten's numbering
      }
      return open(p, ...rest);
    };
    tripwire = true;
  }
  return lib as H5 & { FS: NonNullable<H5['FS']> };
}

let tripwire = false;
/** The one path HDF5 may open while a file is being read (null: none is being read). */
let allowedPath: string | null = null;
/** Paths HDF5 tried to open besides it. */
const attempts: string[] = [];

let opened = 0;

function strings(v: unknown): string[] {
  const arr = Array.isArray(v) ? v : v == null ? [] : [v];
  return arr.map((s) => String(s).replace(/[\0\s]+$/, ''));
}

function attrStrings(obj: { attrs: Record<string, unknown> }, name: string): string[] | null {
  const attrs = obj.attrs as Record<string, { json_value: unknown }>;
  if (attrs[name]) return strings(attrs[name].json_value);
  const parts: string[] = [];
  for (let i = 0; attrs[`${name}${i}`]; i++) parts.push(...strings(attrs[`${name}${i}`]!.json_value));
  return parts.length ? parts : null;
}

const KERAS_NAME = /^block(\d)_conv(\d)$/;

/**
 * Reads the conv layers of a Keras VGG weight file into canonical `convB_I.weight/.bias`, in a
 * worker thread of its own under {@link hdf5TimeLimitMs} (see the file header).
 * @param bytes the whole file; `path` names it in messages.
 * @throws WeightFormatError for an HDF5 file that is not Keras weights, refers outside itself, or
 *         that the HDF5 library cannot read within the time limit.
 */
export async function readKerasH5(bytes: Uint8Array, path: string): Promise<Map<string, NamedTensor>> {
  return readInWorker(bytes, path);
}

/**
 * Time allowed to the HDF5 library: 5 s, plus 10 s per 100 MB (an 80 MB Keras VGG-19 parses in
 * under 1 s). The library is not hardened against crafted files: the fuzzer found files on which
 * it never returns, and others on which it traps.
 */
export function hdf5TimeLimitMs(bytes: number): number {
  return 5000 + (10_000 * bytes) / 1e8;
}

/**
 * Parses in a worker thread, so that a hang or a WebAssembly trap in the HDF5 library costs only
 * that worker (terminated at the time limit) and a fresh library serves each file.
 */
async function readInWorker(bytes: Uint8Array, path: string): Promise<Map<string, NamedTensor>> {
  const workerFile = fileURLToPath(import.meta.url).replace(/keras\.(ts|js)$/, 'keras-worker.$1');
  // Run from TypeScript sources (tests, tsx), the worker registers tsx's loader first: Node 20's
  // workers do not inherit `--import tsx`. The published package runs the compiled .js directly.
  const worker = workerFile.endsWith('.ts')
    ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => m.register()).then(() => import(${JSON.stringify(pathToFileURL(workerFile).href)}))`, { eval: true, workerData: { bytes, path } })
    : new Worker(workerFile, { workerData: { bytes, path } });
  const limit = hdf5TimeLimitMs(bytes.length);
  try {
    return await new Promise<Map<string, NamedTensor>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new WeightFormatError(`${path}: the HDF5 library did not finish reading it within ${(limit / 1000).toFixed(0)} s; the file is corrupt or crafted`)), limit);
      worker.once('message', (m: { tensors?: [string, NamedTensor][]; error?: { message: string; typed: boolean } }) => {
        clearTimeout(timer);
        if (m.tensors) return resolve(new Map(m.tensors));
        const e = new WeightFormatError(m.error!.typed ? m.error!.message : `${path}: HDF5 structure cannot be read (${m.error!.message}); the file is truncated or corrupt`);
        if (!m.error!.typed) (e as WeightFormatError & { internal?: boolean }).internal = true;
        reject(e);
      });
      worker.once('error', (err) => {
        clearTimeout(timer);
        const e = new WeightFormatError(`${path}: the HDF5 library failed on it (${firstLine(err)}); the file is corrupt or crafted`);
        (e as WeightFormatError & { internal?: boolean }).internal = true;
        reject(e);
      });
    });
  } finally {
    await worker.terminate();
  }
}

/** Parses in this thread (the worker's side of {@link readKerasH5}). */
export async function readKerasH5InProcess(bytes: Uint8Array, path: string): Promise<Map<string, NamedTensor>> {
  const lib = await h5();
  const inMemory = `/impasto-${process.pid}-${opened++}.h5`;
  lib.FS.writeFile(inMemory, bytes);
  allowedPath = inMemory;
  attempts.length = 0;
  // HDF5 prints its error stack (HDF5-DIAG, ~40 lines) to stderr through console.error on a corrupt
  // file; the WeightFormatError below says what matters. The reading below is synchronous, so the
  // filter covers exactly its output.
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    if (/HDF5-DIAG|^\s+#\d{3}:|^\s+(major|minor):/m.test(text)) return true;
    return (write as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
  }) as typeof process.stderr.write;
  let file: InstanceType<H5['File']>;
  try {
    file = new lib.File(inMemory, 'r');
  } catch (err) {
    lib.FS.unlink(inMemory);
    allowedPath = null;
    process.stderr.write = write;
    throw new WeightFormatError(`${path}: HDF5 file could not be opened (${firstLine(err)}); it is truncated or corrupt`);
  }
  const entity = (group: InstanceType<H5['Group']>, name: string, what: string) => {
    let e: unknown;
    try {
      e = group.get(name);
    } catch (err) {
      throw new WeightFormatError(`${path}: ${what} cannot be read (${firstLine(err)}); the file is truncated or corrupt`);
    }
    if (e instanceof lib.ExternalLink) throw new WeightFormatError(`${path}: ${what} is an external link to ${e.filename}; a weight file must hold its own weights, and links to other files are refused`);
    if (e instanceof lib.BrokenSoftLink) throw new WeightFormatError(`${path}: ${what} is a soft link to ${e.target}, which the file does not hold`);
    return e;
  };
  try {
    let root: InstanceType<H5['Group']> = file;
    if (!attrStrings(root, 'layer_names') && entity(file, 'model_weights', 'model_weights')) root = entity(file, 'model_weights', 'model_weights') as InstanceType<H5['Group']>;
    const layers = attrStrings(root, 'layer_names');
    if (!layers) {
      throw new WeightFormatError(`${path}: an HDF5 file without Keras 'layer_names'; expected Keras VGG weights (e.g. vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)`);
    }
    const out = new Map<string, NamedTensor>();
    for (const layer of layers) {
      const m = KERAS_NAME.exec(layer);
      if (!m) continue;
      const group = entity(root, layer, `layer ${layer}`) as InstanceType<H5['Group']> | null;
      if (group && !(group instanceof lib.Group)) throw new WeightFormatError(`${path}: layer ${layer} is not an HDF5 group`);
      const names = group ? attrStrings(group, 'weight_names') : null;
      if (!group || !names || names.length < 2) throw new WeightFormatError(`${path}: Keras layer ${layer} has no kernel and bias weights`);
      const read = (n: string) => {
        const ds = (entity(group, n, `dataset ${layer}/${n}`) ?? entity(root, n, `dataset ${n}`)) as InstanceType<H5['Dataset']> | null;
        if (!ds || !(ds instanceof lib.Dataset) || !ds.shape) throw new WeightFormatError(`${path}: dataset ${layer}/${n} is missing`);
        const meta = ds.metadata;
        if (meta.virtual_sources?.length) {
          throw new WeightFormatError(`${path}: dataset ${layer}/${n} is a virtual dataset mapping ${meta.virtual_sources.map((v) => v.file_name).join(', ')}; a weight file must hold its own weights`);
        }
        // H5T_FLOAT is class 1; sizes 2, 4, 8 bytes.
        if (meta.type !== 1 || ![2, 4, 8].includes(meta.size)) {
          throw new WeightFormatError(`${path}: dataset ${layer}/${n} holds ${meta.type === 0 ? 'integers' : `HDF5 type class ${meta.type}`} of ${meta.size} bytes; expected float32 weights`);
        }
        const count = ds.shape.reduce((a, d) => a * d, 1);
        if (!(count * meta.size <= bytes.length)) {
          throw new WeightFormatError(`${path}: dataset ${layer}/${n} declares ${count} values (${count * meta.size} bytes), more than the ${bytes.length}-byte file can hold`);
        }
        let value: unknown;
        try {
          value = ds.value;
        } catch (err) {
          if (!attempts.length) throw new WeightFormatError(`${path}: dataset ${layer}/${n} cannot be read (${firstLine(err)}); the file is truncated or corrupt`);
        }
        if (attempts.length) {
          throw new WeightFormatError(`${path}: dataset ${layer}/${n} keeps its data in another file (${attempts[0]}), HDF5 external storage; a weight file must hold its own weights, so it is refused (that file was not read)`);
        }
        const data = value instanceof Float32Array ? value : Float32Array.from(value as ArrayLike<number>);
        return { data, shape: ds.shape };
      };
      const k = read(names[0]!);
      const b = read(names[1]!);
      if (k.shape.length !== 4) throw new WeightFormatError(`${path}: ${layer} kernel has shape [${k.shape}]; expected (kh, kw, in, out)`);
      const [kh, kw, ci, co] = k.shape as [number, number, number, number];
      const oihw = new Float32Array(k.data.length);
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) {
        oihw[((o * ci + i) * kh + y) * kw + x] = k.data[((y * kw + x) * ci + i) * co + o]!;
      }
      const canon = `conv${m[1]}_${m[2]}`;
      out.set(`${canon}.weight`, { data: oihw, shape: [co, ci, kh, kw] });
      out.set(`${canon}.bias`, b);
    }
    if (out.size === 0) throw new WeightFormatError(`${path}: Keras file without VGG conv layers (block1_conv1 …); its layers are ${layers.slice(0, 5).join(', ')}`);
    return out;
  } finally {
    file.close();
    lib.FS.unlink(inMemory);
    allowedPath = null;
    process.stderr.write = write;
  }
}

/** The first line of an error's message (HDF5 errors carry a long diagnostic trace). */
function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 200);
}
