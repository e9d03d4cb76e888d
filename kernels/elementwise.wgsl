// Elementwise kernels over flat arrays. Every entry point uses a 1-D logical grid that the host
// may split into 2-D (more than 65 535 workgroups): the linear workgroup index is
// wid.x + wid.y * nwg.x, and indices at or past n are ignored.

struct FillParams {
  n: u32,
  bits: u32,
}

@group(0) @binding(0) var<uniform> fill_p: FillParams;
@group(0) @binding(1) var<storage, read_write> fill_out: array<u32>;

// Writes one 32-bit pattern everywhere: zeros, a constant, or a NaN poison for tests.
@compute @workgroup_size(64)
fn fill(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < fill_p.n) {
    fill_out[i] = fill_p.bits;
  }
}

struct AxpbyParams {
  n: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> axpby_p: AxpbyParams;
@group(0) @binding(1) var<storage, read> axpby_x: array<f32>;
@group(0) @binding(2) var<storage, read> axpby_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> axpby_out: array<f32>;

// out = alpha * x + beta * y (also the residual add with alpha = beta = 1).
@compute @workgroup_size(64)
fn axpby(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < axpby_p.n) {
    axpby_out[i] = axpby_p.alpha * axpby_x[i] + axpby_p.beta * axpby_y[i];
  }
}

struct UnaryParams {
  n: u32,
}

@group(0) @binding(0) var<uniform> relu_p: UnaryParams;
@group(0) @binding(1) var<storage, read> relu_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> relu_out: array<f32>;

// out = max(x, 0).
@compute @workgroup_size(64)
fn relu(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < relu_p.n) {
    relu_out[i] = max(relu_x[i], 0.0);
  }
}

@group(0) @binding(0) var<uniform> relu_bwd_p: UnaryParams;
@group(0) @binding(1) var<storage, read> relu_bwd_dy: array<f32>;
// The forward input or output: both are > 0 exactly where the ReLU passed its input.
@group(0) @binding(2) var<storage, read> relu_bwd_ref: array<f32>;
@group(0) @binding(3) var<storage, read_write> relu_bwd_dx: array<f32>;

// dx = dy where ref > 0, else 0 (PyTorch's threshold_backward: the gradient at 0 is 0).
@compute @workgroup_size(64)
fn relu_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < relu_bwd_p.n) {
    relu_bwd_dx[i] = select(0.0, relu_bwd_dy[i], relu_bwd_ref[i] > 0.0);
  }
}

@group(0) @binding(0) var<uniform> add_p: UnaryParams;
@group(0) @binding(1) var<storage, read> add_a: array<f32>;
@group(0) @binding(2) var<storage, read> add_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> add_out: array<f32>;

// The residual add: out = a + b.
@compute @workgroup_size(64)
fn add(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < add_p.n) {
    add_out[i] = add_a[i] + add_b[i];
  }
}

// The end of a ResNet block: out = max(a + b, 0).
@compute @workgroup_size(64)
fn add_relu(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < add_p.n) {
    add_out[i] = max(add_a[i] + add_b[i], 0.0);
  }
}
