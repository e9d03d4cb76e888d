// Row L2 normalisation of [N, D]: y = x / max(‖x‖₂, eps) (PyTorch's F.normalize) and its
// backward. One workgroup per row (a 1-D grid the host may split into 2-D: the row is
// wid.x + wid.y * nwg.x, and rows past N are skipped after the barriers), threads strided over
// D, then a fixed tree in workgroup memory: deterministic, no atomics.

override WG: u32 = 64u;

struct NormParams {
  rows: u32,
  dim: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> np: NormParams;
@group(0) @binding(1) var<storage, read> norm_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm_y: array<f32>;

var<workgroup> partial: array<vec2f, WG>;

// Tree-sums `partial` in a fixed order; every thread returns the total.
fn workgroup_sum(lid: u32, v: vec2f) -> vec2f {
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn l2_normalize_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  let valid = row < np.rows;
  let base = row * np.dim;
  var ss = 0.0;
  if (valid) {
    for (var j = lid; j < np.dim; j += WG) {
      let v = norm_x[base + j];
      ss += v * v;
    }
  }
  let total = workgroup_sum(lid, vec2f(ss, 0.0));
  if (!valid) {
    return;
  }
  let inv = 1.0 / max(sqrt(total.x), np.eps);
  for (var j = lid; j < np.dim; j += WG) {
    norm_y[base + j] = norm_x[base + j] * inv;
  }
}

@group(0) @binding(0) var<uniform> nb: NormParams;
@group(0) @binding(1) var<storage, read> nb_x: array<f32>;
@group(0) @binding(2) var<storage, read> nb_dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> nb_dx: array<f32>;

// With n = ‖x‖: dx = (dy − y·(y·dy)) / n where n > eps; where the clamp is active the
// denominator is the constant eps, so dx = dy / eps (PyTorch's clamp_min gradient).
@compute @workgroup_size(WG)
fn l2_normalize_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  let valid = row < nb.rows;
  let base = row * nb.dim;
  var acc = vec2f(0.0); // (Σ x², Σ x·dy)
  if (valid) {
    for (var j = lid; j < nb.dim; j += WG) {
      let v = nb_x[base + j];
      acc += vec2f(v * v, v * nb_dy[base + j]);
    }
  }
  let total = workgroup_sum(lid, acc);
  if (!valid) {
    return;
  }
  let n = sqrt(total.x);
  if (n > nb.eps) {
    let inv = 1.0 / n;
    let proj = total.y * inv * inv; // (y·dy) / n
    for (var j = lid; j < nb.dim; j += WG) {
      nb_dx[base + j] = (nb_dy[base + j] - nb_x[base + j] * proj) * inv;
    }
  } else {
    let inv = 1.0 / nb.eps;
    for (var j = lid; j < nb.dim; j += WG) {
      nb_dx[base + j] = nb_dy[base + j] * inv;
    }
  }
}
