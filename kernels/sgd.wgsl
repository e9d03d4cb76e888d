// Optimiser updates over flat f32 arrays, in place: PyTorch's SGD with momentum and weight decay,
// and MoCo's momentum-encoder EMA. One invocation per element; a 1-D workgroup count may be split
// into 2-D (linear workgroup index wid.x + wid.y * nwg.x, indices past n ignored). The host binds
// at most maxStorageBufferBindingSize bytes per dispatch, so one tensor may take several.

struct SgdParams {
  n: u32,
  first: u32,
  lr: f32,
  momentum: f32,
  weight_decay: f32,
  dampening: f32,
}

@group(0) @binding(0) var<uniform> sgd_p: SgdParams;
@group(0) @binding(1) var<storage, read_write> sgd_param: array<f32>;
@group(0) @binding(2) var<storage, read> sgd_grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> sgd_buf: array<f32>;

// torch.optim.SGD (no Nesterov), in its order of operations:
//   g ← grad + wd·θ;  buf ← g on the first step, else momentum·buf + (1 − dampening)·g;
//   θ ← θ − lr·buf.
// On the first step the old buffer is never read (it may hold anything).
@compute @workgroup_size(256)
fn sgd_step(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= sgd_p.n) {
    return;
  }
  let theta = sgd_param[i];
  let g = sgd_grad[i] + sgd_p.weight_decay * theta;
  var b = g;
  if (sgd_p.first == 0u) {
    b = sgd_p.momentum * sgd_buf[i] + (1.0 - sgd_p.dampening) * g;
  }
  sgd_buf[i] = b;
  sgd_param[i] = theta - sgd_p.lr * b;
}

struct EmaParams {
  n: u32,
  m: f32,
  one_minus_m: f32,
}

@group(0) @binding(0) var<uniform> ema_p: EmaParams;
@group(0) @binding(1) var<storage, read_write> ema_target: array<f32>;
@group(0) @binding(2) var<storage, read> ema_source: array<f32>;

// θk ← θk·m + θq·(1 − m), as MoCo writes it (1 − m is computed on the host in double).
@compute @workgroup_size(256)
fn ema_update(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= ema_p.n) {
    return;
  }
  ema_target[i] = ema_target[i] * ema_p.m + ema_source[i] * ema_p.one_minus_m;
}

// vec4 forms of the two updates, for sizes divisible by 4 (nearly every ResNet tensor): the same
// arithmetic per element with a quarter of the load/store instructions. n counts vec4s.

@group(0) @binding(1) var<storage, read_write> sgd_param4: array<vec4f>;
@group(0) @binding(2) var<storage, read> sgd_grad4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> sgd_buf4: array<vec4f>;

@compute @workgroup_size(256)
fn sgd_step_vec4(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= sgd_p.n) {
    return;
  }
  let theta = sgd_param4[i];
  let g = sgd_grad4[i] + sgd_p.weight_decay * theta;
  var b = g;
  if (sgd_p.first == 0u) {
    b = sgd_p.momentum * sgd_buf4[i] + (1.0 - sgd_p.dampening) * g;
  }
  sgd_buf4[i] = b;
  sgd_param4[i] = theta - sgd_p.lr * b;
}

@group(0) @binding(1) var<storage, read_write> ema_target4: array<vec4f>;
@group(0) @binding(2) var<storage, read> ema_source4: array<vec4f>;

@compute @workgroup_size(256)
fn ema_update_vec4(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= ema_p.n) {
    return;
  }
  ema_target4[i] = ema_target4[i] * ema_p.m + ema_source4[i] * ema_p.one_minus_m;
}
