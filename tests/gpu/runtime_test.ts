import { openGpu } from "../../src/gpu/device.ts";
import { bucketSize } from "../../src/gpu/buffer_pool.ts";
import { splitWorkgroups } from "../../src/gpu/recorder.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { fill, NAN_BITS, poison } from "../../src/ops/elementwise.ts";
import { GpuError, GpuUnavailableError } from "../../src/util/errors.ts";
import { assert, assertArrayEqual, assertRejects } from "../util/assert.ts";
import { GPU_TEST, testGpu } from "../util/gpu.ts";
import { testRng } from "../util/seed.ts";

const FILL_SOURCE = `
struct P { n: u32, base: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn index_fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < p.n) { out[i] = i + p.base; }
}`;

Deno.test({
  name: "Tensor round-trips random f32 / i32 / u32 data, including lengths not a multiple of 4",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("roundtrip");
    for (const n of [1, 3, 5, 7, 64, 1023, 4097 + rng.int(100)]) {
      const f = rng.normalArray(n);
      const i = Int32Array.from({ length: n }, () => rng.nextUint32() | 0);
      const u = Uint32Array.from({ length: n }, () => rng.nextUint32());
      const tensors = [Tensor.from(gpu, f), Tensor.from(gpu, i), Tensor.from(gpu, u)];
      const [rf, ri, ru] = await gpu.recorder.read(tensors);
      assert(
        rf instanceof Float32Array && ri instanceof Int32Array && ru instanceof Uint32Array,
        "readback keeps the dtype",
      );
      assertArrayEqual(rf, f, `f32 n=${n}`);
      assertArrayEqual(ri, i, `i32 n=${n}`);
      assertArrayEqual(ru, u, `u32 n=${n}`);
      for (const t of tensors) t.release();
    }
  },
});

Deno.test({
  name: "a dispatch over more than 65 535 × 64 elements writes every element",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("bigdispatch");
    const n = 65535 * 64 + 1 + rng.int(5000) * 64 + rng.int(64);
    const base = rng.int(1000);
    const out = Tensor.empty(gpu, [n], "u32");
    poison(gpu, out);
    const kernel = gpu.kernels.get({
      file: "test_fill.wgsl",
      source: FILL_SOURCE,
      entryPoint: "index_fill",
    });
    const groups = Math.ceil(n / 64);
    const [x, y] = splitWorkgroups(groups);
    assert(y > 1 && x <= 65535, `grid was split (${x} × ${y})`);
    gpu.recorder.dispatch(kernel, [out], groups, new Uint32Array([n, base]));
    const [values] = await gpu.recorder.read([out]);
    for (let i = 0; i < n; i++) {
      if (values[i] !== i + base) {
        throw new Error(
          `element ${i} is ${values[i]} (poison is ${NAN_BITS}), expected ${i + base}`,
        );
      }
    }
    out.release();
  },
});

Deno.test({
  name: "fill() writes constants of each dtype after a NaN poison",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const rng = testRng("fill");
    const n = 100 + rng.int(1000);
    const value = rng.normal();
    const tf = Tensor.empty(gpu, [n], "f32");
    const ti = Tensor.empty(gpu, [n], "i32");
    poison(gpu, tf);
    poison(gpu, ti);
    fill(gpu, tf, value);
    fill(gpu, ti, -7);
    const [rf, ri] = await gpu.recorder.read([tf, ti]);
    assertArrayEqual(rf, new Float32Array(n).fill(value), "f32 fill");
    assertArrayEqual(ri, new Int32Array(n).fill(-7), "i32 fill");
    tf.release();
    ti.release();
  },
});

Deno.test({
  name: "a WGSL syntax error raises a GpuError naming the kernel file and the compiler message",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const error = await assertRejects(
      () =>
        gpu.kernels.compile({
          file: "broken_kernel.wgsl",
          source: "fn main( {",
          entryPoint: "main",
        }),
      /broken_kernel\.wgsl[\s\S]*(expected|error)/i,
      "syntax error",
    );
    assert(error instanceof GpuError, "the error is a GpuError");
    // The device stays usable after a compile error.
    const t = Tensor.from(gpu, new Float32Array([1, 2, 3]));
    assertArrayEqual(await t.read(), [1, 2, 3], "device usable afterwards");
    t.release();
  },
});

Deno.test({
  name: "a dispatch with a wrong binding raises a validation error instead of a silent no-op",
  ...GPU_TEST,
  async fn() {
    const gpu = await testGpu();
    const kernel = gpu.kernels.get({
      file: "test_fill.wgsl",
      source: FILL_SOURCE,
      entryPoint: "index_fill",
    });
    const out = Tensor.empty(gpu, [64], "u32");
    // Missing the storage binding: only the uniform block is bound.
    gpu.recorder.dispatch(kernel, [], 1, new Uint32Array([64, 0]));
    const error = await assertRejects(() => gpu.sync(), /test_fill\.wgsl/, "missing binding");
    assert(error instanceof GpuError, "a GpuError");
    // A uniform-only buffer bound where storage is expected.
    const uniform = gpu.device.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM });
    gpu.recorder.dispatch(kernel, [uniform], 1, new Uint32Array([64, 0]));
    await assertRejects(() => out.read(), /index_fill[\s\S]*STORAGE/i, "wrong buffer usage");
    uniform.destroy();
    out.release();
  },
});

Deno.test({
  name: "the pool reuses a released buffer of the same bucket and its counters return to zero",
  ...GPU_TEST,
  async fn() {
    const gpu = await openGpu();
    try {
      const pool = gpu.pool;
      assert(pool.liveBytes === 0, "starts empty");
      const a = Tensor.empty(gpu, [1000]);
      const b = Tensor.empty(gpu, [3, 7]);
      assert(pool.liveBytes === bucketSize(4000) + bucketSize(84), `live = ${pool.liveBytes}`);
      const bufferA = a.buffer;
      a.release();
      a.release(); // idempotent
      const c = Tensor.empty(gpu, [990]); // same bucket as 1000 floats
      assert(c.buffer === bufferA, "a released buffer of the same bucket is reused");
      assert(pool.createdCount === 2, `created ${pool.createdCount} buffers`);
      const peak = pool.peakBytes;
      b.release();
      c.release();
      assert(pool.liveBytes === 0, `live returns to zero (${pool.liveBytes})`);
      assert(pool.peakBytes === peak && peak >= bucketSize(4000), "peak is kept");
      assert(pool.freeBytes === bucketSize(4000) + bucketSize(84), "free lists hold both");
      pool.trim();
      assert(pool.freeBytes === 0, "trim empties the free lists");
    } finally {
      gpu.destroy();
    }
  },
});

Deno.test("bucketSize() wastes at most 25 % and is monotone", () => {
  let last = 0;
  for (let n = 1; n < 5_000_000; n = Math.ceil(n * 1.07) + 3) {
    const b = bucketSize(n);
    assert(b >= n && b >= last, `bucket(${n}) = ${b}`);
    if (n > 256) assert(b <= n * 1.25 + 1, `bucket(${n}) = ${b} wastes more than 25 %`);
    last = b;
  }
});

Deno.test("splitWorkgroups() covers the count with a grid inside the per-dimension limit", () => {
  for (const n of [0, 1, 65535, 65536, 131071, 1_000_003, 65535 * 300]) {
    const [x, y, z] = splitWorkgroups(n);
    assert(x <= 65535 && y <= 65535 && z === 1, `grid for ${n}`);
    assert(x * y >= n && x * (y - 1) < Math.max(n, 1), `grid ${x}×${y} for ${n} is tight`);
  }
});

Deno.test({
  name: "openGpu() with an impossible requirement fails with a readable message",
  ...GPU_TEST,
  async fn() {
    const error = await assertRejects(
      () => openGpu({ requiredFeatures: ["teleportation-query"] }),
      /lacks required feature\(s\) teleportation-query/,
      "impossible feature",
    );
    assert(error instanceof GpuUnavailableError, "a GpuUnavailableError");
  },
});
