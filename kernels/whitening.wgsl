// Whitened view metrics on the GPU (src/eval/gpu_whitening.ts), so synthetic invariance reads
// back k metrics per image instead of [k + 1, D] features:
// - center_rows: xc = x − μ for rows [m, D], μ given as a float32 pair hi + lo (μ − hi rounded),
//   so the result is within an ulp of the float64 centring rounded to float32;
// - view_sums: for whitened rows z [m, cols] (a column block of Z = Xc·L⁻ᵀ), one workgroup per
//   view j ≥ 1 adds ⟨z0, zj⟩, ‖z0‖², ‖zj‖² and ‖z0 − zj‖² over the block into sums[j − 1]; the host
//   turns the four sums into the cosine similarity and the distance.

const WG: u32 = 256u;

struct CenterParams {
  rows: u32,
  dim: u32,
  _pad0: u32,
  _pad1: u32,
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
  // Views (rows 1…views of z).
  views: u32,
  // Columns of this block.
  cols: u32,
  // 1: add to the sums; 0: overwrite them (first block).
  accumulate: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> sp: SumParams;
@group(0) @binding(1) var<storage, read> s_z: array<f32>;
@group(0) @binding(2) var<storage, read_write> s_sums: array<vec4f>;

var<workgroup> partial: array<vec4f, 256>;

// Grid: (views, 1, 1). sums[j − 1] = (⟨z0, zj⟩, ‖z0‖², ‖zj‖², ‖z0 − zj‖²).
@compute @workgroup_size(256)
fn view_sums(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.x + 1u;
  var acc = vec4f(0.0);
  for (var c = lid; c < sp.cols; c += WG) {
    let a = s_z[c];
    let b = s_z[v * sp.cols + c];
    let e = a - b;
    acc += vec4f(a * b, a * a, b * b, e * e);
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      partial[lid] += partial[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    if (sp.accumulate != 0u) {
      s_sums[wid.x] += partial[0];
    } else {
      s_sums[wid.x] = partial[0];
    }
  }
}
