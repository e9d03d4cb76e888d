// Feature statistics for the two-pass covariance: per-batch column sums (the mean pass) and
// per-batch centred cross-products (X − μ)ᵀ(X − μ) of one [rows, cols] block of the D×D matrix.
// Both reduce over at most a few hundred rows in a fixed sequential order (no atomics), so the
// f32 partials are bit-identical run to run; the host adds the partials of all batches in f64.
//
// x is [n, D] row-major (one feature vector per row). Rows [row0, row0 + rows) are used.

// ---------------------------------------------------------------------------------------------
// out[d] = Σ_r x[row0 + r, d], one invocation per column (adjacent invocations, adjacent columns).

struct SumParams {
  rows: u32,
  d: u32,
  row0: u32,
}

@group(0) @binding(0) var<uniform> sum_p: SumParams;
@group(0) @binding(1) var<storage, read> sum_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sum_out: array<f32>;

@compute @workgroup_size(64)
fn column_sums(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let col = (wid.x + wid.y * nwg.x) * 64u + lid;
  let d = sum_p.d;
  if (col >= d) {
    return;
  }
  var acc = 0.0;
  for (var r = 0u; r < sum_p.rows; r++) {
    acc += sum_x[(sum_p.row0 + r) * d + col];
  }
  sum_out[col] = acc;
}

// ---------------------------------------------------------------------------------------------
// out[a, b] = Σ_r (x[r, a0 + a] − μ[a0 + a]) · (x[r, b0 + b] − μ[b0 + b]) for a < rows_a,
// b < cols_b (out is [rows_a, cols_b] row-major). 64 invocations as 8 × 8, each owning an 8 × 8
// register tile: a = tile_a + 8·ty + i, b = tile_b + 8·tx + j, so the workgroup covers 64 × 64.
// On a diagonal block (a0 == b0) tiles lying entirely below the diagonal are skipped: the host
// reads only a ≤ b there.

struct BlockParams {
  rows: u32,
  d: u32,
  row0: u32,
  diagonal: u32,
  a0: u32,
  b0: u32,
  rows_a: u32,
  cols_b: u32,
}

@group(0) @binding(0) var<uniform> blk_p: BlockParams;
@group(0) @binding(1) var<storage, read> blk_x: array<f32>;
@group(0) @binding(2) var<storage, read> blk_mean: array<f32>;
@group(0) @binding(1) var<storage, read> blk_x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> blk_mean4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> blk_out: array<f32>;

struct TileOrigin {
  a: u32,
  b: u32,
  skip: bool,
}

fn tile_origin(wid: vec3u, lid: u32) -> TileOrigin {
  var t: TileOrigin;
  let ta = wid.y * 64u;
  let tb = wid.x * 64u;
  t.skip = blk_p.diagonal != 0u && ta >= tb + 64u;
  t.a = ta + 8u * (lid / 8u);
  t.b = tb + 8u * (lid % 8u);
  return t;
}

// Stores the 8 × 8 tile (rows ya, columns yb as pairs of vec4) with bounds checks.
fn store_tile(t: TileOrigin, acc: array<vec4f, 16>) {
  for (var i = 0u; i < 8u; i++) {
    let a = t.a + i;
    if (a < blk_p.rows_a) {
      let base = a * blk_p.cols_b;
      for (var j = 0u; j < 8u; j++) {
        let b = t.b + j;
        if (b < blk_p.cols_b) {
          blk_out[base + b] = acc[i * 2u + j / 4u][j % 4u];
        }
      }
    }
  }
}

// acc[2i], acc[2i + 1] += ya[i] · (yb0, yb1) for the 8 rows i of the tile.
fn outer8(ya0: vec4f, ya1: vec4f, yb0: vec4f, yb1: vec4f, acc: ptr<function, array<vec4f, 16>>) {
  (*acc)[0] = fma(vec4f(ya0.x), yb0, (*acc)[0]);
  (*acc)[1] = fma(vec4f(ya0.x), yb1, (*acc)[1]);
  (*acc)[2] = fma(vec4f(ya0.y), yb0, (*acc)[2]);
  (*acc)[3] = fma(vec4f(ya0.y), yb1, (*acc)[3]);
  (*acc)[4] = fma(vec4f(ya0.z), yb0, (*acc)[4]);
  (*acc)[5] = fma(vec4f(ya0.z), yb1, (*acc)[5]);
  (*acc)[6] = fma(vec4f(ya0.w), yb0, (*acc)[6]);
  (*acc)[7] = fma(vec4f(ya0.w), yb1, (*acc)[7]);
  (*acc)[8] = fma(vec4f(ya1.x), yb0, (*acc)[8]);
  (*acc)[9] = fma(vec4f(ya1.x), yb1, (*acc)[9]);
  (*acc)[10] = fma(vec4f(ya1.y), yb0, (*acc)[10]);
  (*acc)[11] = fma(vec4f(ya1.y), yb1, (*acc)[11]);
  (*acc)[12] = fma(vec4f(ya1.z), yb0, (*acc)[12]);
  (*acc)[13] = fma(vec4f(ya1.z), yb1, (*acc)[13]);
  (*acc)[14] = fma(vec4f(ya1.w), yb0, (*acc)[14]);
  (*acc)[15] = fma(vec4f(ya1.w), yb1, (*acc)[15]);
}

// Scalar loads: any D and block origin.
@compute @workgroup_size(64)
fn cov_block(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = tile_origin(wid, lid);
  if (t.skip) {
    return;
  }
  let d = blk_p.d;
  // Global columns of this thread's 8 a's and 8 b's, clamped into the matrix.
  var ca: array<u32, 8>;
  var cb: array<u32, 8>;
  for (var i = 0u; i < 8u; i++) {
    ca[i] = min(blk_p.a0 + t.a + i, d - 1u);
    cb[i] = min(blk_p.b0 + t.b + i, d - 1u);
  }
  let ma0 = vec4f(blk_mean[ca[0]], blk_mean[ca[1]], blk_mean[ca[2]], blk_mean[ca[3]]);
  let ma1 = vec4f(blk_mean[ca[4]], blk_mean[ca[5]], blk_mean[ca[6]], blk_mean[ca[7]]);
  let mb0 = vec4f(blk_mean[cb[0]], blk_mean[cb[1]], blk_mean[cb[2]], blk_mean[cb[3]]);
  let mb1 = vec4f(blk_mean[cb[4]], blk_mean[cb[5]], blk_mean[cb[6]], blk_mean[cb[7]]);
  var acc: array<vec4f, 16>;
  for (var e = 0u; e < 16u; e++) {
    acc[e] = vec4f(0.0);
  }
  for (var r = 0u; r < blk_p.rows; r++) {
    let base = (blk_p.row0 + r) * d;
    let ya0 = vec4f(
      blk_x[base + ca[0]],
      blk_x[base + ca[1]],
      blk_x[base + ca[2]],
      blk_x[base + ca[3]],
    ) - ma0;
    let ya1 = vec4f(
      blk_x[base + ca[4]],
      blk_x[base + ca[5]],
      blk_x[base + ca[6]],
      blk_x[base + ca[7]],
    ) - ma1;
    let yb0 = vec4f(
      blk_x[base + cb[0]],
      blk_x[base + cb[1]],
      blk_x[base + cb[2]],
      blk_x[base + cb[3]],
    ) - mb0;
    let yb1 = vec4f(
      blk_x[base + cb[4]],
      blk_x[base + cb[5]],
      blk_x[base + cb[6]],
      blk_x[base + cb[7]],
    ) - mb1;
    outer8(ya0, ya1, yb0, yb1, &acc);
  }
  store_tile(t, acc);
}

// vec4 loads: D, a0 and b0 divisible by 4. Same arithmetic, bit-identical to `cov_block`.
@compute @workgroup_size(64)
fn cov_block_vec4(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = tile_origin(wid, lid);
  if (t.skip) {
    return;
  }
  let d4 = blk_p.d / 4u;
  let va0 = min((blk_p.a0 + t.a) / 4u, d4 - 1u);
  let va1 = min((blk_p.a0 + t.a) / 4u + 1u, d4 - 1u);
  let vb0 = min((blk_p.b0 + t.b) / 4u, d4 - 1u);
  let vb1 = min((blk_p.b0 + t.b) / 4u + 1u, d4 - 1u);
  let ma0 = blk_mean4[va0];
  let ma1 = blk_mean4[va1];
  let mb0 = blk_mean4[vb0];
  let mb1 = blk_mean4[vb1];
  var acc: array<vec4f, 16>;
  for (var e = 0u; e < 16u; e++) {
    acc[e] = vec4f(0.0);
  }
  for (var r = 0u; r < blk_p.rows; r++) {
    let base = (blk_p.row0 + r) * d4;
    outer8(
      blk_x4[base + va0] - ma0,
      blk_x4[base + va1] - ma1,
      blk_x4[base + vb0] - mb0,
      blk_x4[base + vb1] - mb1,
      &acc,
    );
  }
  store_tile(t, acc);
}
