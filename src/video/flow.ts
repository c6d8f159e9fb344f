/**
 * Dense optical flow between two frames, by Farnebäck's polynomial-expansion method (OpenCV's
 * `calcOpticalFlowFarneback`) from @techstark/opencv-js: OpenCV 4.9 compiled to WebAssembly, one
 * file with no native build, loaded on first use (about 0.5 s).
 *
 * Frames are planar RGB [3,H,W] in 0–255; the flow is computed on their luminance (BT.601 weights,
 * rounded to 8 bits, as OpenCV's own grey conversion) at the frames' own size, the working
 * resolution. `flowBetween(a, b)` is defined on a's grid: pixel p of a is at p + flow(p) in b.
 *
 * Parameters (OpenCV's names): pyramid scale 0.5, levels 3 (more for large frames: until the
 * coarsest level is under 32 px), window 21, iterations 5, polyN 7, polySigma 1.5 (OpenCV's
 * pairing for polyN 7). On a pan and zoom over the whole Tübingen photo (tests/video/clip.ts,
 * 192×144, ~5 px a frame) their mean endpoint error is 0.87 px against 0.93 px for OpenCV's
 * sample values (15, 3, 5, 1.2); most of it is in the flat sky, where no method can see motion.
 */
import { createRequire } from 'node:module';
import { checkPlanar, type Flow } from '../losses/temporal.js';
import { OptionError } from '../errors.js';

/** The parts of OpenCV.js used here. */
interface Cv {
  Mat: new (rows?: number, cols?: number, type?: number) => CvMat;
  CV_8UC1: number;
  calcOpticalFlowFarneback(prev: CvMat, next: CvMat, flow: CvMat, pyrScale: number, levels: number, winsize: number, iterations: number, polyN: number, polySigma: number, flags: number): void;
  onRuntimeInitialized?: () => void;
}
interface CvMat {
  data: Uint8Array;
  data32F: Float32Array;
  rows: number;
  cols: number;
  delete(): void;
}

// Loaded with require and always kept wrapped in an object: the Emscripten module has a `then`
// method that calls back with the module itself, so `import()` of it, or resolving a promise (an
// async function's result) with it, loops for ever in microtasks.
let loading: Promise<{ cv: Cv }> | null = null;

/** OpenCV.js, loaded once; wrapped (see above). */
function opencv(): Promise<{ cv: Cv }> {
  loading ??= (async () => {
    const cv = createRequire(import.meta.url)('@techstark/opencv-js') as Cv;
    if (!(cv as { Mat?: unknown }).Mat) await new Promise<void>((resolve) => { cv.onRuntimeInitialized = () => resolve(); });
    return { cv };
  })();
  return loading;
}

/** A frame, planar RGB [3,H,W] in 0–255. */
export interface Frame {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

function grey(cv: Cv, f: Frame): CvMat {
  const n = f.width * f.height;
  const m = new cv.Mat(f.height, f.width, cv.CV_8UC1);
  for (let i = 0; i < n; i++) m.data[i] = Math.round(0.299 * f.data[i]! + 0.587 * f.data[n + i]! + 0.114 * f.data[2 * n + i]!);
  return m;
}

/** Pyramid levels: 3, or more until the coarsest level's shorter side is under 32 px. */
export function pyramidLevels(width: number, height: number): number {
  let levels = 3;
  while (Math.min(width, height) / 2 ** levels >= 32 && levels < 8) levels++;
  return levels;
}

/**
 * The flow from frame `a` to frame `b` (on a's grid: a's pixel p is at p + flow(p) in b).
 * @throws OptionError when a frame is not a [3,H,W] Float32Array of its size, or the frames differ in size.
 */
export async function flowBetween(a: Frame, b: Frame): Promise<Flow> {
  checkPlanar(a, 'flowBetween: frame a');
  checkPlanar(b, 'flowBetween: frame b');
  if (a.width !== b.width || a.height !== b.height) throw new OptionError(`optical flow needs frames of one size, received ${a.width}×${a.height} and ${b.width}×${b.height}`);
  const { cv } = await opencv();
  const ga = grey(cv, a);
  const gb = grey(cv, b);
  const flow = new cv.Mat();
  try {
    cv.calcOpticalFlowFarneback(ga, gb, flow, 0.5, pyramidLevels(a.width, a.height), 21, 5, 7, 1.5, 0);
    const n = a.width * a.height;
    const u = new Float32Array(n);
    const v = new Float32Array(n);
    const d = flow.data32F;
    for (let i = 0; i < n; i++) {
      u[i] = d[2 * i]!;
      v[i] = d[2 * i + 1]!;
    }
    return { width: a.width, height: a.height, u, v };
  } finally {
    ga.delete();
    gb.delete();
    flow.delete();
  }
}
