// Pooling over NHWC activations: max pooling (forward with arg-max, backward as a gather) and
// global average pooling. 1-D grids may be split into 2-D by the host: the linear workgroup
// index is wid.x + wid.y * nwg.x, and indices past the real count are ignored.

struct MaxPoolParams {
  n: u32,
  h: u32,
  w: u32,
  c: u32,
  out_h: u32,
  out_w: u32,
  kernel_h: u32,
  kernel_w: u32,
  stride_h: u32,
  stride_w: u32,
  pad_h: u32,
  pad_w: u32,
  total: u32, // elements of the output (forward) or of the input (backward)
}

// By the bit pattern: compilers may fold `v != v` to false.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@group(0) @binding(0) var<uniform> mp: MaxPoolParams;
@group(0) @binding(1) var<storage, read> mp_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mp_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mp_idx: array<i32>;

// One thread per output (n, oh, ow, c). The arg-max is h·W + w inside the (n, c) plane, as in
// PyTorch; the first maximum in row-major window order wins ties, and NaN propagates with the
// last NaN's index, as PyTorch's `v > best || isnan(v)` does.
@compute @workgroup_size(64)
fn maxpool_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= mp.total) {
    return;
  }
  let c = i % mp.c;
  var t = i / mp.c;
  let ow = t % mp.out_w;
  t /= mp.out_w;
  let oh = t % mp.out_h;
  let n = t / mp.out_h;
  let h0 = i32(oh * mp.stride_h) - i32(mp.pad_h);
  let w0 = i32(ow * mp.stride_w) - i32(mp.pad_w);
  var best = 0.0;
  var best_idx = -1;
  for (var kh = 0u; kh < mp.kernel_h; kh++) {
    let h = h0 + i32(kh);
    if (h < 0 || h >= i32(mp.h)) {
      continue;
    }
    for (var kw = 0u; kw < mp.kernel_w; kw++) {
      let w = w0 + i32(kw);
      if (w < 0 || w >= i32(mp.w)) {
        continue;
      }
      let v = mp_x[((n * mp.h + u32(h)) * mp.w + u32(w)) * mp.c + c];
      // Once a NaN is chosen only a later NaN replaces it (comparisons with NaN are false).
      if (best_idx < 0 || v > best || is_nan(v)) {
        best = v;
        best_idx = h * i32(mp.w) + w;
      }
    }
  }
  mp_y[i] = best;
  mp_idx[i] = best_idx;
}

@group(0) @binding(0) var<uniform> mb: MaxPoolParams;
@group(0) @binding(1) var<storage, read> mb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> mb_idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> mb_dx: array<f32>;

// One thread per input (n, h, w, c): sums, in a fixed order, dy of every output whose window
// covers (h, w) and whose arg-max is (h, w). Overlapping windows that pick the same input add up
// deterministically, with no atomics.
@compute @workgroup_size(64)
fn maxpool_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= mb.total) {
    return;
  }
  let c = i % mb.c;
  var t = i / mb.c;
  let w = t % mb.w;
  t /= mb.w;
  let h = t % mb.h;
  let n = t / mb.h;
  // Outputs whose window [o·s − p, o·s − p + k − 1] contains h.
  let hp = i32(h + mb.pad_h);
  let wp = i32(w + mb.pad_w);
  let sh = i32(mb.stride_h);
  let sw = i32(mb.stride_w);
  let oh_lo = max(hp - i32(mb.kernel_h) + sh, 0) / sh; // ceil((hp − k + 1) / s), clamped at 0
  let oh_hi = min(hp / sh, i32(mb.out_h) - 1);
  let ow_lo = max(wp - i32(mb.kernel_w) + sw, 0) / sw;
  let ow_hi = min(wp / sw, i32(mb.out_w) - 1);
  let me = i32(h * mb.w + w);
  var acc = 0.0;
  for (var oh = oh_lo; oh <= oh_hi; oh++) {
    for (var ow = ow_lo; ow <= ow_hi; ow++) {
      let o = ((n * mb.out_h + u32(oh)) * mb.out_w + u32(ow)) * mb.c + c;
      if (mb_idx[o] == me) {
        acc += mb_dy[o];
      }
    }
  }
  mb_dx[i] = acc;
}

struct GapParams {
  n: u32,
  hw: u32,
  c: u32,
  total: u32, // n·c (forward) or n·hw·c (backward)
}

@group(0) @binding(0) var<uniform> gp: GapParams;
@group(0) @binding(1) var<storage, read> gap_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gap_y: array<f32>;

// One thread per (n, c): the mean over the H·W positions (adjacent threads read adjacent
// channels). Four interleaved partial sums keep the f32 rounding of long sums small.
@compute @workgroup_size(64)
fn global_avgpool_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= gp.total) {
    return;
  }
  let c = i % gp.c;
  let n = i / gp.c;
  let base = n * gp.hw * gp.c + c;
  var s = vec4f(0.0);
  var p = 0u;
  for (; p + 4u <= gp.hw; p += 4u) {
    let j = base + p * gp.c;
    s += vec4f(gap_x[j], gap_x[j + gp.c], gap_x[j + 2u * gp.c], gap_x[j + 3u * gp.c]);
  }
  for (; p < gp.hw; p++) {
    s.x += gap_x[base + p * gp.c];
  }
  gap_y[i] = ((s.x + s.y) + (s.z + s.w)) / f32(gp.hw);
}

@group(0) @binding(0) var<uniform> gb: GapParams;
@group(0) @binding(1) var<storage, read> gb_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gb_dx: array<f32>;

// dx[n, h, w, c] = dy[n, c] / (H·W).
@compute @workgroup_size(64)
fn global_avgpool_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= gb.total) {
    return;
  }
  let c = i % gb.c;
  let n = i / (gb.hw * gb.c);
  gb_dx[i] = gb_dy[n * gb.c + c] / f32(gb.hw);
}
