// Batch normalisation over NHWC activations viewed as [rows, C] (rows = N·H·W), with the rows
// split into G equal consecutive groups that each get their own statistics (shuffle-BN
// emulation; G = 1 is plain BatchNorm2d).
//
// Statistics are reduced deterministically in two stages, parallel over channels AND rows:
//   1. *_partial: one thread per (group, chunk of CHUNK rows, channel) reduces its chunk;
//      adjacent threads take adjacent channels, so a workgroup reads whole rows.
//   2. *_reduce: one workgroup per channel merges the chunk partials of each group, first
//      strided per thread, then by a fixed tree in workgroup memory. No atomics anywhere, so
//      results are bit-identical from run to run.
// Mean and variance use a corrected two-pass inside each chunk and Chan's pairwise merge of
// (count, mean, M2) across chunks: no E[x²] − E[x]² cancellation even over 100k+ rows. Both
// work on x − K with K = the group's first value of the channel, so the chunk means being
// merged are O(σ) rather than O(|μ|) and their f32 rounding does not leak into the variance
// when |μ| ≫ σ.
//
// 1-D grids may be split into 2-D by the host: the linear workgroup index is
// wid.x + wid.y * nwg.x, and indices past the real count are ignored.

override WG: u32 = 64u;
// 1: the forward output gets a ReLU / the backward masks dy with the forward output > 0.
override RELU: u32 = 0u;

struct StatsParams {
  rows_per_group: u32,
  channels: u32,
  chunk: u32,
  chunks_per_group: u32,
  total: u32, // groups * chunks_per_group * channels
  groups: u32,
  eps: f32,
  momentum: f32,
  // 0: no running update, 1: from group 0, 2: from the mean of the groups' statistics.
  running_mode: u32,
}

@group(0) @binding(0) var<uniform> sp: StatsParams;
@group(0) @binding(1) var<storage, read> stats_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats_partial: array<vec2f>;

// Per (group, chunk, channel): (mean, M2) of the chunk's shifted values x − K, M2 by the
// corrected two-pass formula Σd² − (Σd)²/n (the second term repairs the rounding of the mean).
@compute @workgroup_size(WG)
fn bn_stats_partial(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= sp.total) {
    return;
  }
  let c = t % sp.channels;
  let gk = t / sp.channels;
  let g = gk / sp.chunks_per_group;
  let k = gk % sp.chunks_per_group;
  let r0 = g * sp.rows_per_group + k * sp.chunk;
  let n = min(sp.chunk, sp.rows_per_group - k * sp.chunk);
  let C = sp.channels;
  let shift = stats_x[g * sp.rows_per_group * C + c];
  var s = 0.0;
  for (var r = 0u; r < n; r++) {
    s += stats_x[(r0 + r) * C + c] - shift;
  }
  let m = s / f32(n);
  var sd = 0.0;
  var sd2 = 0.0;
  for (var r = 0u; r < n; r++) {
    let d = (stats_x[(r0 + r) * C + c] - shift) - m;
    sd += d;
    sd2 += d * d;
  }
  stats_partial[t] = vec2f(m, max(sd2 - sd * sd / f32(n), 0.0));
}

@group(0) @binding(0) var<uniform> rp: StatsParams;
@group(0) @binding(1) var<storage, read> reduce_partial: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> save_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> save_invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_var: array<f32>;
// The input, for the shift K of each (group, channel).
@group(0) @binding(6) var<storage, read> reduce_x: array<f32>;

var<workgroup> wn: array<f32, WG>;
var<workgroup> wmean: array<f32, WG>;
var<workgroup> wm2: array<f32, WG>;

// Chan et al.'s merge of two (count, mean, M2) summaries.
fn merge_stats(a: vec3f, b: vec3f) -> vec3f {
  if (b.x == 0.0) {
    return a;
  }
  if (a.x == 0.0) {
    return b;
  }
  let n = a.x + b.x;
  let delta = b.y - a.y;
  let fb = b.x / n;
  return vec3f(n, a.y + delta * fb, a.z + b.z + delta * delta * a.x * fb);
}

// One workgroup per channel: merges every group's chunk partials, writes the saved mean and
// 1/sqrt(var + eps) per (group, channel), and updates the running statistics in place with
// the unbiased variance (n/(n − 1)).
@compute @workgroup_size(WG)
fn bn_stats_reduce(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let c = wid.x + wid.y * nwg.x;
  // Uniform control flow for the barriers: an out-of-range workgroup still runs the loop.
  let valid = c < rp.channels;
  let C = rp.channels;
  var run_mean = 0.0;
  var run_var = 0.0;
  for (var g = 0u; g < rp.groups; g++) {
    var acc = vec3f(0.0);
    if (valid) {
      for (var k = lid; k < rp.chunks_per_group; k += WG) {
        let p = reduce_partial[(g * rp.chunks_per_group + k) * C + c];
        let cnt = f32(min(rp.chunk, rp.rows_per_group - k * rp.chunk));
        acc = merge_stats(acc, vec3f(cnt, p.x, p.y));
      }
    }
    wn[lid] = acc.x;
    wmean[lid] = acc.y;
    wm2[lid] = acc.z;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) {
        let m = merge_stats(
          vec3f(wn[lid], wmean[lid], wm2[lid]),
          vec3f(wn[lid + stride], wmean[lid + stride], wm2[lid + stride]),
        );
        wn[lid] = m.x;
        wmean[lid] = m.y;
        wm2[lid] = m.z;
      }
      workgroupBarrier();
    }
    if (lid == 0u && valid) {
      let n = f32(rp.rows_per_group);
      let mean = reduce_x[g * rp.rows_per_group * C + c] + wmean[0];
      let m2 = wm2[0];
      save_mean[g * C + c] = mean;
      save_invstd[g * C + c] = 1.0 / sqrt(m2 / n + rp.eps);
      let unbiased = m2 / (n - 1.0);
      if (rp.running_mode == 2u || g == 0u) {
        run_mean += mean;
        run_var += unbiased;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u && valid && rp.running_mode != 0u) {
    var scale = 1.0;
    if (rp.running_mode == 2u) {
      scale = 1.0 / f32(rp.groups);
    }
    let keep = 1.0 - rp.momentum;
    running_mean[c] = keep * running_mean[c] + rp.momentum * (run_mean * scale);
    running_var[c] = keep * running_var[c] + rp.momentum * (run_var * scale);
  }
}

// The elementwise passes (apply, eval, dx) give each thread one channel of a block of
// consecutive rows inside one group: the per-channel constants are loaded once and the inner
// loop has no integer division (which the software adapter does not vectorise).
struct BlockParams {
  total: u32, // groups * blocks_per_group * channels
  channels: u32,
  rows_per_group: u32,
  rows_per_block: u32,
  blocks_per_group: u32,
  eps: f32, // bn_eval only
}

struct Block {
  c: u32,
  g: u32,
  first: u32, // element index of the block's first row at channel c
  rows: u32,
}

fn block_of(t: u32, bp: BlockParams) -> Block {
  let c = t % bp.channels;
  let gb = t / bp.channels;
  let g = gb / bp.blocks_per_group;
  let b = gb % bp.blocks_per_group;
  let r0 = g * bp.rows_per_group + b * bp.rows_per_block;
  let rows = min(bp.rows_per_block, bp.rows_per_group - b * bp.rows_per_block);
  return Block(c, g, r0 * bp.channels + c, rows);
}

@group(0) @binding(0) var<uniform> ap: BlockParams;
@group(0) @binding(1) var<storage, read> apply_x: array<f32>;
@group(0) @binding(2) var<storage, read> apply_mean: array<f32>;
@group(0) @binding(3) var<storage, read> apply_invstd: array<f32>;
@group(0) @binding(4) var<storage, read> apply_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> apply_beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> apply_y: array<f32>;

fn activate(v: f32) -> f32 {
  if (RELU == 1u) {
    return max(v, 0.0);
  }
  return v;
}

// Train mode: y = (x − μ_g)·(γ·invstd_g) + β with the statistics of the block's group.
@compute @workgroup_size(WG)
fn bn_apply(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= ap.total) {
    return;
  }
  let bk = block_of(t, ap);
  let gc = bk.g * ap.channels + bk.c;
  let mean = apply_mean[gc];
  let scale = apply_invstd[gc] * apply_gamma[bk.c];
  let shift = apply_beta[bk.c];
  for (var r = 0u; r < bk.rows; r++) {
    let i = bk.first + r * ap.channels;
    apply_y[i] = activate((apply_x[i] - mean) * scale + shift);
  }
}

@group(0) @binding(0) var<uniform> ep: BlockParams;
@group(0) @binding(1) var<storage, read> eval_x: array<f32>;
@group(0) @binding(2) var<storage, read> eval_rmean: array<f32>;
@group(0) @binding(3) var<storage, read> eval_rvar: array<f32>;
@group(0) @binding(4) var<storage, read> eval_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> eval_beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> eval_y: array<f32>;

// Eval mode: y = γ·(x − running_mean)/sqrt(running_var + eps) + β (one group).
@compute @workgroup_size(WG)
fn bn_eval(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= ep.total) {
    return;
  }
  let bk = block_of(t, ep);
  let mean = eval_rmean[bk.c];
  let scale = eval_gamma[bk.c] / sqrt(eval_rvar[bk.c] + ep.eps);
  let shift = eval_beta[bk.c];
  for (var r = 0u; r < bk.rows; r++) {
    let i = bk.first + r * ep.channels;
    eval_y[i] = activate((eval_x[i] - mean) * scale + shift);
  }
}

// ---- backward -------------------------------------------------------------------------------

@group(0) @binding(0) var<uniform> gp: StatsParams;
@group(0) @binding(1) var<storage, read> grad_dy: array<f32>;
@group(0) @binding(2) var<storage, read> grad_x: array<f32>;
// The forward output (after its ReLU) for the mask; bound to dy when RELU == 0.
@group(0) @binding(3) var<storage, read> grad_y: array<f32>;
@group(0) @binding(4) var<storage, read> grad_mean: array<f32>;
@group(0) @binding(5) var<storage, read> grad_invstd: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_partial: array<vec2f>;

fn masked_dy(i: u32) -> f32 {
  let d = grad_dy[i];
  if (RELU == 1u) {
    return select(0.0, d, grad_y[i] > 0.0);
  }
  return d;
}

// Per (group, chunk, channel): (Σ dy, Σ dy·x̂) over the chunk's rows.
@compute @workgroup_size(WG)
fn bn_grad_partial(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= gp.total) {
    return;
  }
  let C = gp.channels;
  let c = t % C;
  let gk = t / C;
  let g = gk / gp.chunks_per_group;
  let k = gk % gp.chunks_per_group;
  let r0 = g * gp.rows_per_group + k * gp.chunk;
  let n = min(gp.chunk, gp.rows_per_group - k * gp.chunk);
  let mean = grad_mean[g * C + c];
  let invstd = grad_invstd[g * C + c];
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var r = 0u; r < n; r++) {
    let i = (r0 + r) * C + c;
    let d = masked_dy(i);
    sdy += d;
    sdyx += d * ((grad_x[i] - mean) * invstd);
  }
  grad_partial[t] = vec2f(sdy, sdyx);
}

@group(0) @binding(0) var<uniform> gr: StatsParams;
@group(0) @binding(1) var<storage, read> gred_partial: array<vec2f>;
// Per (group, channel): (Σ dy, Σ dy·x̂) of the group, for the dx pass.
@group(0) @binding(2) var<storage, read_write> gred_sums: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> gred_dgamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> gred_dbeta: array<f32>;

var<workgroup> wsum: array<vec2f, WG>;

// One workgroup per channel: per-group sums in a fixed order, and dγ, dβ as their sum.
@compute @workgroup_size(WG)
fn bn_grad_reduce(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let c = wid.x + wid.y * nwg.x;
  let valid = c < gr.channels;
  let C = gr.channels;
  var total = vec2f(0.0);
  for (var g = 0u; g < gr.groups; g++) {
    var acc = vec2f(0.0);
    if (valid) {
      for (var k = lid; k < gr.chunks_per_group; k += WG) {
        acc += gred_partial[(g * gr.chunks_per_group + k) * C + c];
      }
    }
    wsum[lid] = acc;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) {
        wsum[lid] += wsum[lid + stride];
      }
      workgroupBarrier();
    }
    if (lid == 0u && valid) {
      gred_sums[g * C + c] = wsum[0];
      total += wsum[0];
    }
    workgroupBarrier();
  }
  if (lid == 0u && valid) {
    gred_dbeta[c] = total.x;
    gred_dgamma[c] = total.y;
  }
}

@group(0) @binding(0) var<uniform> dp: BlockParams;
@group(0) @binding(1) var<storage, read> dx_dy: array<f32>;
@group(0) @binding(2) var<storage, read> dx_x: array<f32>;
@group(0) @binding(3) var<storage, read> dx_y: array<f32>;
@group(0) @binding(4) var<storage, read> dx_mean: array<f32>;
@group(0) @binding(5) var<storage, read> dx_invstd: array<f32>;
@group(0) @binding(6) var<storage, read> dx_gamma: array<f32>;
@group(0) @binding(7) var<storage, read> dx_sums: array<vec2f>;
@group(0) @binding(8) var<storage, read_write> dx_out: array<f32>;

// dx = γ·invstd_g · (dy − Σ_g dy / n_g − x̂ · Σ_g(dy·x̂) / n_g), the gradient through the
// block's own group statistics.
@compute @workgroup_size(WG)
fn bn_backward_dx(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= dp.total) {
    return;
  }
  let bk = block_of(t, dp);
  let gc = bk.g * dp.channels + bk.c;
  let mean = dx_mean[gc];
  let invstd = dx_invstd[gc];
  let scale = dx_gamma[bk.c] * invstd;
  let inv_n = 1.0 / f32(dp.rows_per_group);
  let sums = dx_sums[gc] * inv_n;
  for (var r = 0u; r < bk.rows; r++) {
    let i = bk.first + r * dp.channels;
    var d = dx_dy[i];
    if (RELU == 1u) {
      d = select(0.0, d, dx_y[i] > 0.0);
    }
    let xhat = (dx_x[i] - mean) * invstd;
    dx_out[i] = scale * (d - sums.x - xhat * sums.y);
  }
}
