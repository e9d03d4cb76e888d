/**
 * Float64 CPU references of the elementwise ops (ReLU, residual add) and a central
 * finite-difference gradient used by the backward tests of the norm / pool families.
 *
 * @module
 */

/** max(x, 0). */
export function refRelu(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.max(v, 0));
}

/** dy where the mask source (forward input or output) is positive, else 0. */
export function refReluBackward(dy: ArrayLike<number>, ref: ArrayLike<number>): Float64Array {
  return Float64Array.from(dy, (d, i) => (ref[i] > 0 ? d : 0));
}

/** a + b, optionally followed by a ReLU. */
export function refAdd(a: ArrayLike<number>, b: ArrayLike<number>, relu = false): Float64Array {
  return Float64Array.from(a, (v, i) => (relu ? Math.max(v + b[i], 0) : v + b[i]));
}

/**
 * Gradient of the scalar loss L(x) = Σ_i w_i · f(x)_i with respect to every element of `x`, by
 * central differences with step `h` (float64 throughout; `f` must not keep `x`).
 */
export function numericGradient(
  f: (x: Float64Array) => ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  h = 1e-6,
): Float64Array {
  const probe = Float64Array.from(x);
  const loss = () => {
    const y = f(probe);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += w[i] * y[i];
    return s;
  };
  const grad = new Float64Array(probe.length);
  for (let i = 0; i < probe.length; i++) {
    const keep = probe[i];
    probe[i] = keep + h;
    const up = loss();
    probe[i] = keep - h;
    const down = loss();
    probe[i] = keep;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}
