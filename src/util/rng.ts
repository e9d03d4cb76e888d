/**
 * Seeded pseudo-random numbers for everything the project draws itself (weight init, test
 * inputs, augmentations). xoshiro128** seeded through splitmix32: fast, 32-bit, and the whole
 * state fits in four numbers so it can be stored in a checkpoint and restored exactly.
 *
 * @module
 */

/** A seeded generator with a serialisable state. */
export class Rng {
  #s = new Uint32Array(4);
  #spareNormal: number | undefined;

  /** Creates a generator from a 32-bit integer seed (any number; it is folded to 32 bits). */
  constructor(seed: number) {
    let x = (seed >>> 0) ^ Math.floor(seed / 0x100000000);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform double in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!(n >= 1 && n <= 0x100000000)) throw new RangeError(`Rng.int: bad bound ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const v = this.nextUint32();
      if (v < limit) return v % n;
    }
  }

  /** Standard normal sample (Marsaglia polar method; the spare is kept in the state). */
  normal(): number {
    if (this.#spareNormal !== undefined) {
      const v = this.#spareNormal;
      this.#spareNormal = undefined;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt(-2 * Math.log(s) / s);
        this.#spareNormal = v * f;
        return u * f;
      }
    }
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A Float32Array of uniform values in [lo, hi). */
  uniformArray(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.range(lo, hi);
    return out;
  }

  /** A Float32Array of normal values with the given standard deviation. */
  normalArray(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = std * this.normal();
    return out;
  }

  /** The full state, for checkpoints. */
  getState(): number[] {
    const spare = this.#spareNormal;
    return [...this.#s, spare === undefined ? NaN : spare];
  }

  /** Restores a state produced by {@link getState}. */
  setState(state: readonly number[]): void {
    if (state.length !== 5) throw new RangeError("Rng.setState: expected 5 numbers");
    for (let i = 0; i < 4; i++) this.#s[i] = state[i] >>> 0;
    this.#spareNormal = Number.isNaN(state[4]) ? undefined : state[4];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
