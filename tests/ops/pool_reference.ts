/**
 * Float64 CPU references of max pooling (with PyTorch's arg-max convention) and global average
 * pooling over NHWC arrays, as plain loops.
 *
 * @module
 */

/** Max-pool geometry (all per dimension). */
export interface PoolGeom {
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

/** Output height and width. */
export function poolOut(g: PoolGeom): [number, number] {
  return [
    Math.floor((g.h + 2 * g.ph - g.kh) / g.sh) + 1,
    Math.floor((g.w + 2 * g.pw - g.kw) / g.sw) + 1,
  ];
}

/**
 * Max pooling: y and the arg-max h·W + w per output; the first maximum in row-major window
 * order wins ties (strict comparison), as in PyTorch.
 */
export function refMaxPool(
  x: ArrayLike<number>,
  g: PoolGeom,
): { y: Float64Array; idx: Int32Array } {
  const [oh, ow] = poolOut(g);
  const y = new Float64Array(g.n * oh * ow * g.c);
  const idx = new Int32Array(y.length);
  for (let n = 0; n < g.n; n++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let c = 0; c < g.c; c++) {
          let best = -Infinity;
          let bestIdx = -1;
          for (let a = 0; a < g.kh; a++) {
            for (let b = 0; b < g.kw; b++) {
              const h = i * g.sh - g.ph + a;
              const w = j * g.sw - g.pw + b;
              if (h < 0 || h >= g.h || w < 0 || w >= g.w) continue;
              const v = x[((n * g.h + h) * g.w + w) * g.c + c];
              if (bestIdx < 0 || v > best) {
                best = v;
                bestIdx = h * g.w + w;
              }
            }
          }
          const o = ((n * oh + i) * ow + j) * g.c + c;
          y[o] = best;
          idx[o] = bestIdx;
        }
      }
    }
  }
  return { y, idx };
}

/** Max-pool backward: dy scattered (summed) onto the arg-max input positions. */
export function refMaxPoolBackward(
  dy: ArrayLike<number>,
  idx: ArrayLike<number>,
  g: PoolGeom,
): Float64Array {
  const [oh, ow] = poolOut(g);
  const dx = new Float64Array(g.n * g.h * g.w * g.c);
  for (let n = 0; n < g.n; n++) {
    for (let p = 0; p < oh * ow; p++) {
      for (let c = 0; c < g.c; c++) {
        const o = (n * oh * ow + p) * g.c + c;
        dx[(n * g.h * g.w + idx[o]) * g.c + c] += dy[o];
      }
    }
  }
  return dx;
}

/** Global average pooling [N, H, W, C] → [N, C]. */
export function refGlobalAvgPool(
  x: ArrayLike<number>,
  n: number,
  hw: number,
  c: number,
): Float64Array {
  const y = new Float64Array(n * c);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let p = 0; p < hw; p++) s += x[(b * hw + p) * c + ch];
      y[b * c + ch] = s / hw;
    }
  }
  return y;
}

/** Global average pooling backward: dy [N, C] spread evenly over H·W. */
export function refGlobalAvgPoolBackward(
  dy: ArrayLike<number>,
  n: number,
  hw: number,
  c: number,
): Float64Array {
  const dx = new Float64Array(n * hw * c);
  for (let i = 0; i < dx.length; i++) {
    const b = Math.floor(i / (hw * c));
    dx[i] = dy[b * c + (i % c)] / hw;
  }
  return dx;
}
