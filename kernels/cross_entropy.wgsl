// Softmax cross-entropy over class logits [N, C] (row-major) with one integer label per row:
// PyTorch's F.cross_entropy(logits, labels) with its gradient, plus the top-1 / top-5 counts of
// the classifier.
//
// `ce_rows`: one workgroup per row (a 1-D grid the host may split into 2-D: the row is
// wid.x + wid.y * nwg.x; rows past N skip their writes after the barriers). Threads stride over
// the C columns; a fixed tree in workgroup memory gives the row's maximum m, Σ exp(z − m) and the
// label's rank r = #{ j ≠ y : z_j ≥ z_y } (ties count against the label). It writes
//   row[2i]     = logsumexp(z_i) − z_iy        (the row's loss),
//   row[2i + 1] = r                             (as f32; exact for any C < 2^24),
//   grad[i, j]  = grad_scale · (softmax(z_i)_j − [j = y_i])   (when write_grad ≠ 0).
// A label outside [0, C) (a negative i32 reads as a huge u32) makes that row's loss and gradient
// NaN and its rank C, so a bad label cannot pass silently.
//
// `ce_reduce`: one workgroup sums the row losses (each thread over a fixed stride of rows, then a
// fixed tree) into loss[0] = loss_scale · Σ_i loss_i, and counts rows of rank 0 / rank < 5.
// With `accumulate` ≠ 0 it also adds (N, Σ_i loss_i, top-1 count, top-5 count) to the running
// f32 totals, so a whole epoch's loss and accuracy need one readback at its end.
// Every sum has a fixed order, so results are bit-identical run to run.

override WG: u32 = 64u;

struct RowParams {
  n: u32,
  c: u32,
  grad_scale: f32,
  write_grad: u32,
}

@group(0) @binding(0) var<uniform> rp: RowParams;
@group(0) @binding(1) var<storage, read> ce_logits: array<f32>;
@group(0) @binding(2) var<storage, read> ce_labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> ce_row: array<f32>;
@group(0) @binding(4) var<storage, read_write> ce_grad: array<f32>;

var<workgroup> w_max: array<f32, WG>;
var<workgroup> w_sum: array<vec2f, WG>;

// The workgroup's maximum of v (fixed tree); every thread returns it.
fn workgroup_max(lid: u32, v: f32) -> f32 {
  w_max[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      w_max[lid] = max(w_max[lid], w_max[lid + stride]);
    }
    workgroupBarrier();
  }
  let total = w_max[0];
  workgroupBarrier();
  return total;
}

// The workgroup's sum of v (fixed tree); every thread returns it.
fn workgroup_sum(lid: u32, v: vec2f) -> vec2f {
  w_sum[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      w_sum[lid] += w_sum[lid + stride];
    }
    workgroupBarrier();
  }
  let total = w_sum[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn ce_rows(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  let valid = row < rp.n;
  let c = rp.c;
  let base = min(row, rp.n - 1u) * c;
  let label = ce_labels[min(row, rp.n - 1u)];
  let label_ok = label < c;
  let zy = ce_logits[base + min(label, c - 1u)];

  // NaN logits propagate through max() on some adapters and not on others; the sum below
  // carries them either way (exp(NaN − m) is NaN).
  var m = -3.0e38;
  for (var j = lid; j < c; j += WG) {
    m = max(m, ce_logits[base + j]);
  }
  m = workgroup_max(lid, m);

  var acc = vec2f(0.0); // (Σ exp(z − m), #{ j ≠ y : z_j ≥ z_y })
  for (var j = lid; j < c; j += WG) {
    let z = ce_logits[base + j];
    acc.x += exp(z - m);
    if (j != label && z >= zy) {
      acc.y += 1.0;
    }
  }
  let total = workgroup_sum(lid, acc);
  if (!valid) {
    return;
  }
  // A quiet NaN built from a runtime value (a constant NaN is not a valid WGSL constant).
  let nan = bitcast<f32>(0x7fc00000u | (label & 0u));
  let s = total.x;
  if (lid == 0u) {
    ce_row[2u * row] = select(nan, m + log(s) - zy, label_ok);
    ce_row[2u * row + 1u] = select(f32(c), total.y, label_ok);
  }
  if (rp.write_grad == 0u) {
    return;
  }
  let inv = 1.0 / s;
  for (var j = lid; j < c; j += WG) {
    let p = exp(ce_logits[base + j] - m) * inv;
    let g = select(p, p - 1.0, j == label);
    ce_grad[base + j] = select(nan, g * rp.grad_scale, label_ok);
  }
}

struct ReduceParams {
  n: u32,
  loss_scale: f32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> rd: ReduceParams;
@group(0) @binding(1) var<storage, read> rd_row: array<f32>;
@group(0) @binding(2) var<storage, read_write> rd_loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> rd_correct: array<u32>;
@group(0) @binding(4) var<storage, read_write> rd_totals: array<f32>;

var<workgroup> w_cnt: array<vec2u, WG>;

@compute @workgroup_size(WG)
fn ce_reduce(@builtin(local_invocation_index) lid: u32) {
  var loss = 0.0;
  var cnt = vec2u(0u);
  for (var i = lid; i < rd.n; i += WG) {
    loss += rd_row[2u * i];
    let rank = rd_row[2u * i + 1u];
    cnt += vec2u(select(0u, 1u, rank < 1.0), select(0u, 1u, rank < 5.0));
  }
  w_sum[lid] = vec2f(loss, 0.0);
  w_cnt[lid] = cnt;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      w_sum[lid] += w_sum[lid + stride];
      w_cnt[lid] += w_cnt[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    rd_loss[0] = w_sum[0].x * rd.loss_scale;
    rd_correct[0] = w_cnt[0].x;
    rd_correct[1] = w_cnt[0].y;
    if (rd.accumulate != 0u) {
      rd_totals[0] += f32(rd.n);
      rd_totals[1] += w_sum[0].x;
      rd_totals[2] += f32(w_cnt[0].x);
      rd_totals[3] += f32(w_cnt[0].y);
    }
  }
}
