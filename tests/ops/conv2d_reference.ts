/**
 * Float64 CPU references for the convolution ops, written as the plain definition (direct sums
 * over every tap, no GEMM reformulation). Layouts match the GPU ops: activations NHWC
 * [N, H, W, C], weights HWIO [kH, kW, Cin, Cout], all flat row-major arrays.
 *
 * @module
 */

type Num = ArrayLike<number>;

/** Geometry of one convolution. */
export interface RefConv {
  /** Input [N, H, W, Cin]. */
  xShape: readonly [number, number, number, number];
  /** Weights [kH, kW, Cin, Cout]. */
  wShape: readonly [number, number, number, number];
  stride: number;
  pad: readonly [number, number];
}

/** Output size [N, Ho, Wo, Cout]. */
export function refOutShape(c: RefConv): [number, number, number, number] {
  const [n, h, w] = c.xShape;
  const [kh, kw, , cout] = c.wShape;
  return [
    n,
    Math.floor((h + 2 * c.pad[0] - kh) / c.stride) + 1,
    Math.floor((w + 2 * c.pad[1] - kw) / c.stride) + 1,
    cout,
  ];
}

/**
 * y[n, oy, ox, co] = Σ x[n, oy·S − padH + th, ox·S − padW + tw, ci]·w[th, tw, ci, co]
 * (+ bias[co]) (+ residual) then optionally ReLU.
 */
export function conv2dRef(
  x: Num,
  w: Num,
  c: RefConv,
  epilogue: { bias?: Num; residual?: Num; relu?: boolean } = {},
): Float64Array {
  const [n, h, wd, cin] = c.xShape;
  const [kh, kw, , cout] = c.wShape;
  const [, oh, ow] = refOutShape(c);
  const y = new Float64Array(n * oh * ow * cout);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let co = 0; co < cout; co++) {
          let s = 0;
          for (let th = 0; th < kh; th++) {
            const ih = i * c.stride - c.pad[0] + th;
            if (ih < 0 || ih >= h) continue;
            for (let tw = 0; tw < kw; tw++) {
              const iw = j * c.stride - c.pad[1] + tw;
              if (iw < 0 || iw >= wd) continue;
              for (let ci = 0; ci < cin; ci++) {
                s += x[((b * h + ih) * wd + iw) * cin + ci] *
                  w[((th * kw + tw) * cin + ci) * cout + co];
              }
            }
          }
          const o = ((b * oh + i) * ow + j) * cout + co;
          if (epilogue.bias) s += epilogue.bias[co];
          if (epilogue.residual) s += epilogue.residual[o];
          if (epilogue.relu) s = Math.max(0, s);
          y[o] = s;
        }
      }
    }
  }
  return y;
}

/** dx[n, ih, iw, ci] = Σ over (oy, ox, th, tw) with oy·S − padH + th = ih (and so on) of dy·w. */
export function conv2dBackwardDataRef(dy: Num, w: Num, c: RefConv): Float64Array {
  const [n, h, wd, cin] = c.xShape;
  const [kh, kw, , cout] = c.wShape;
  const [, oh, ow] = refOutShape(c);
  const dx = new Float64Array(n * h * wd * cin);
  // Scatter form: every output gradient sends its contribution to the inputs it read.
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let th = 0; th < kh; th++) {
          const ih = i * c.stride - c.pad[0] + th;
          if (ih < 0 || ih >= h) continue;
          for (let tw = 0; tw < kw; tw++) {
            const iw = j * c.stride - c.pad[1] + tw;
            if (iw < 0 || iw >= wd) continue;
            for (let ci = 0; ci < cin; ci++) {
              let s = 0;
              for (let co = 0; co < cout; co++) {
                s += dy[((b * oh + i) * ow + j) * cout + co] *
                  w[((th * kw + tw) * cin + ci) * cout + co];
              }
              dx[((b * h + ih) * wd + iw) * cin + ci] += s;
            }
          }
        }
      }
    }
  }
  return dx;
}

/** dw[th, tw, ci, co] = Σ over (n, oy, ox) of x[n, oy·S − padH + th, ox·S − padW + tw, ci]·dy. */
export function conv2dBackwardFilterRef(x: Num, dy: Num, c: RefConv): Float64Array {
  const [n, h, wd, cin] = c.xShape;
  const [kh, kw, , cout] = c.wShape;
  const [, oh, ow] = refOutShape(c);
  const dw = new Float64Array(kh * kw * cin * cout);
  for (let th = 0; th < kh; th++) {
    for (let tw = 0; tw < kw; tw++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let co = 0; co < cout; co++) {
          let s = 0;
          for (let b = 0; b < n; b++) {
            for (let i = 0; i < oh; i++) {
              const ih = i * c.stride - c.pad[0] + th;
              if (ih < 0 || ih >= h) continue;
              for (let j = 0; j < ow; j++) {
                const iw = j * c.stride - c.pad[1] + tw;
                if (iw < 0 || iw >= wd) continue;
                s += x[((b * h + ih) * wd + iw) * cin + ci] *
                  dy[((b * oh + i) * ow + j) * cout + co];
              }
            }
          }
          dw[((th * kw + tw) * cin + ci) * cout + co] = s;
        }
      }
    }
  }
  return dw;
}
