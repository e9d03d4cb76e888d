// Folding an eval-mode BatchNorm2d into the convolution before it, on the GPU, so that models
// whose weights change on the GPU (training, EMA) can refresh their fused eval weights without a
// readback. s[c] = gamma[c] / sqrt(var[c] + eps); HWIO weights are scaled per output channel
// (the innermost index) and bias[c] = beta[c] - mean[c] * s[c]. 1-D grid, possibly split 2-D.

struct FoldParams {
  n: u32,
  cout: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: FoldParams;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> running_var: array<f32>;
@group(0) @binding(4) var<storage, read_write> w_out: array<f32>;

@compute @workgroup_size(64)
fn fold_weights(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < p.n) {
    let c = i % p.cout;
    w_out[i] = w[i] * (gamma[c] / sqrt(running_var[c] + p.eps));
  }
}

@group(0) @binding(0) var<uniform> bp: FoldParams;
@group(0) @binding(1) var<storage, read> b_gamma: array<f32>;
@group(0) @binding(2) var<storage, read> b_beta: array<f32>;
@group(0) @binding(3) var<storage, read> b_mean: array<f32>;
@group(0) @binding(4) var<storage, read> b_var: array<f32>;
@group(0) @binding(5) var<storage, read_write> b_out: array<f32>;

@compute @workgroup_size(64)
fn fold_bias(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let c = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (c < bp.cout) {
    b_out[c] = b_beta[c] - b_mean[c] * (b_gamma[c] / sqrt(b_var[c] + bp.eps));
  }
}
