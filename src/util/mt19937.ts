/**
 * numpy's legacy `RandomState` draws, bit-exact: MT19937 with `init_genrand` seeding (what
 * `np.random.seed(int)` does), `randint`/`choice` by masked rejection, `shuffle` (Fisher–Yates
 * from the end) and `random_sample`. The original scripts sample evaluation images and write
 * split files with these; reproducing them makes our subsets identical to the paper's.
 *
 * @module
 */

const N = 624;
const M = 397;

/** A numpy-legacy-compatible Mersenne Twister. */
export class NumpyLegacyRandom {
  #mt = new Uint32Array(N);
  #index = N;

  /** Seeds like `np.random.seed(seed)` for an integer seed in [0, 2³²). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`numpy seeds must be integers in [0, 2^32), got ${seed}`);
    }
    const mt = this.#mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      // 1812433253 · prev + i in 32-bit arithmetic, split to stay exact in doubles.
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** The next raw 32-bit output (`genrand_int32`). */
  nextUint32(): number {
    const mt = this.#mt;
    if (this.#index >= N) {
      for (let k = 0; k < N; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
        mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.#index = 0;
    }
    let y = mt[this.#index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max] by masked rejection (numpy's `random_interval`, max < 2³²). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    for (;;) {
      const value = (this.nextUint32() & mask) >>> 0;
      if (value <= max) return value;
    }
  }

  /** `randint(low, high, size)` for a span below 2³² (the legacy masked 32-bit path). */
  randint(low: number, high: number, size: number): number[] {
    if (!(high > low)) throw new RangeError(`randint: high (${high}) must exceed low (${low})`);
    if (high - low - 1 > 0xffffffff) throw new RangeError("randint: span too large");
    const out: number[] = [];
    for (let i = 0; i < size; i++) out.push(low + this.interval(high - low - 1));
    return out;
  }

  /** `choice(n, size)` with replacement and uniform probabilities (= `randint(0, n, size)`). */
  choice(n: number, size: number): number[] {
    return this.randint(0, n, size);
  }

  /** `shuffle(x)` in place, as numpy's legacy Fisher–Yates from the last element. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.interval(i);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** `random_sample()`: a double in [0, 1) from two 32-bit draws (53 bits). */
  randomSample(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}
