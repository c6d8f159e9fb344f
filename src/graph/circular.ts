/**
 * Circular ("wrap") padding, for textures that tile: the image is treated as a torus, so a
 * convolution at the left edge sees the right edge's pixels (PyTorch's padding_mode='circular').
 *
 * Built from ops that already have their VJPs (Slice, constant Pad, Add), so the reverse pass
 * comes from the tape: along an axis of length L, with p ≤ L (a wider p first wraps whole copies),
 *   pad(x) = Pad(x[L−p:L], after: L+p) + Pad(x, p each side) + Pad(x[0:p], before: L+p)
 * i.e. [x[L−p:L], x, x[0:p]] along that axis.
 */
import { GraphBuildError, type Value } from './builder.js';
import type { Tape } from './autodiff.js';

/** Pads one axis (2 = H, 3 = W) of a [N,C,H,W] Value by p on each side, wrapping around. */
function wrapAxis(t: Tape, x: Value, axis: 2 | 3, p: number, label: string): Value {
  const len = x.shape[axis]!;
  if (len < 1) throw new GraphBuildError(`${label}: circular padding needs a side of at least 1 px, received ${len}`);
  // Wider than the side: wrap a whole copy onto each side first. The result, x repeated three
  // times, is still periodic with period len, so wrapping it by the rest gives the same values.
  if (p > len) return wrapAxis(t, wrapAxis(t, x, axis, len, `${label}.copy`), axis, p - len, label);
  const pads = (before: number, after: number) => {
    const out = [0, 0, 0, 0, 0, 0, 0, 0];
    out[axis] = before;
    out[axis + 4] = after;
    return out;
  };
  const tail = t.slice(x, { axes: [axis], starts: [len - p], ends: [len] }, `${label}.tail`);
  const head = t.slice(x, { axes: [axis], starts: [0], ends: [p] }, `${label}.head`);
  const middle = t.pad(x, pads(p, p), `${label}.middle`);
  return t.add(t.add(t.pad(tail, pads(0, len + p), `${label}.before`), middle, `${label}.sum1`), t.pad(head, pads(len + p, 0), `${label}.after`), `${label}.wrapped`);
}

/** x [N,C,H,W] padded by p on all four sides with wrapped values: [N,C,H+2p,W+2p]. */
export function circularPad(t: Tape, x: Value, p: number, label: string): Value {
  if (p === 0) return x;
  return wrapAxis(t, wrapAxis(t, x, 3, p, `${label}.w`), 2, p, `${label}.h`);
}

/**
 * A "same" convolution: zero padding of `pad` on each side, or circular padding when `circular`.
 * Shapes as Tape.conv: x [N,C,H,W], w [O,C,k,k] with k = 2·pad + 1.
 */
export function sameConv(t: Tape, x: Value, w: Value, bias: Value | undefined, pad: number, circular: boolean, label: string): Value {
  return circular
    ? t.conv(circularPad(t, x, pad, `${label}.wrap`), w, bias, { pads: [0, 0, 0, 0] }, label)
    : t.conv(x, w, bias, { pads: [pad, pad, pad, pad] }, label);
}
