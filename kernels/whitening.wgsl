// Whitened view metrics on the GPU (src/eval/gpu_whitening.ts), so invariance reads back a few
// numbers per image or group instead of its [n, D] features:
// - center_rows: xc = x − μ for rows [m, D], μ given as a float32 pair hi + lo (μ − hi rounded),
//   so the result is within an ulp of the float64 centring rounded to float32;
// - pair_sums: for whitened rows z [n, cols] (a column block of Z = Xc·L⁻ᵀ), one workgroup per
//   pair (a, b), a ≤ b, adds ⟨za, zb⟩, ‖za‖², ‖zb‖² and ‖za − zb‖² over the block into
//   sums[a·n + b]. Synthetic invariance runs row a = 0 only (the clean view against each view) and
//   turns the sums into cosines and distances on the host; real-world invariance runs every pair;
// - group_reduce: the cosines and distances of all pairs of one group, summed into one vec4
//   (off-diagonal cosines, diagonal cosines, distances), the only thing a group reads back.

const WG: u32 = 256u;

struct CenterParams {
  rows: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> cp: CenterParams;
@group(0) @binding(1) var<storage, read> c_mean: array<f32>;
@group(0) @binding(2) var<storage, read> c_x: array<f32>;
@group(0) @binding(3) var<storage, read_write> c_out: array<f32>;

// Grid: (⌈D / 256⌉, rows).
@compute @workgroup_size(256)
fn center_rows(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let i = gid.y;
  if (j >= cp.dim || i >= cp.rows) {
    return;
  }
  let at = i * cp.dim + j;
  c_out[at] = (c_x[at] - c_mean[j]) - c_mean[cp.dim + j];
}

struct SumParams {
  // Rows of z.
  n: u32,
  // Columns of this block.
  cols: u32,
  // 1: add to the sums; 0: overwrite them (first block).
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> sp: SumParams;
@group(0) @binding(1) var<storage, read> s_z: array<f32>;
@group(0) @binding(2) var<storage, read_write> s_sums: array<vec4f>;

var<workgroup> partial: array<vec4f, 256>;

// The sum of `acc` over the workgroup's 256 threads (a tree over `partial`), in every thread.
// Called from uniform control flow.
fn workgroup_sum(lid: u32, acc: vec4f) -> vec4f {
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      partial[lid] += partial[lid + s];
    }
    workgroupBarrier();
  }
  return partial[0];
}

// Grid: (n, rows a), a workgroup per (a, b = x); pairs with b < a are skipped (their sums are not
// written). sums[a·n + b] = (⟨za, zb⟩, ‖za‖², ‖zb‖², ‖za − zb‖²).
@compute @workgroup_size(256)
fn pair_sums(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let b = wid.x;
  let a = wid.y;
  if (b < a) {
    return;
  }
  var acc = vec4f(0.0);
  for (var c = lid; c < sp.cols; c += WG) {
    let x = s_z[a * sp.cols + c];
    let y = s_z[b * sp.cols + c];
    let e = x - y;
    acc += vec4f(x * y, x * x, y * y, e * e);
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) {
    let at = a * sp.n + b;
    if (sp.accumulate != 0u) {
      s_sums[at] += total;
    } else {
      s_sums[at] = total;
    }
  }
}

struct ReduceParams {
  // Views in the group.
  n: u32,
  // torch cosine_similarity's ε (COS_EPS of src/eval/whitening.ts).
  eps: f32,
}

@group(0) @binding(0) var<uniform> rp: ReduceParams;
@group(0) @binding(1) var<storage, read> r_sums: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> r_out: array<vec4f>;

// Grid: (1, 1, 1). out[0] = (Σ_{a<b} cos, Σ_a cos(a, a), Σ_{a<b} ‖za − zb‖, 0), each cosine
// ⟨za, zb⟩ / √max(‖za‖²‖zb‖², ε²) as `cosine` in src/eval/whitening.ts.
@compute @workgroup_size(256)
fn group_reduce(@builtin(local_invocation_index) lid: u32) {
  let n = rp.n;
  let eps2 = rp.eps * rp.eps;
  var acc = vec4f(0.0);
  for (var i = lid; i < n * n; i += WG) {
    let a = i / n;
    let b = i % n;
    if (b >= a) {
      let q = r_sums[i];
      let cosine = q.x / sqrt(max(q.y * q.z, eps2));
      if (b == a) {
        acc.y += cosine;
      } else {
        acc.x += cosine;
        acc.z += sqrt(q.w);
      }
    }
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) {
    r_out[0] = total;
  }
}
