// Pooling over NHWC activations: max pooling (forward with arg-max, backward as a gather) and
// global average pooling. 1-D grids may be split into 2-D by the host: the linear workgroup
// index is wid.x + wid.y * nwg.x, and indices past the real count are ignored.

// The geometry is specialised as override constants: the index arithmetic then divides by
// constants (multiply + shift), which the software adapter vectorises, instead of by uniforms
// (scalar division per lane). One pipeline per pooling shape; ResNet has one or two.
override C: u32 = 1u;
override H: u32 = 1u;
override W: u32 = 1u;
override OUT_H: u32 = 1u;
override OUT_W: u32 = 1u;
override KH: u32 = 1u;
override KW: u32 = 1u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override PH: u32 = 0u;
override PW: u32 = 0u;
// Most outputs whose windows cover one input, per dimension.
override CAND_H: u32 = (KH + SH - 1u) / SH;
override CAND_W: u32 = (KW + SW - 1u) / SW;

struct MaxPoolParams {
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
  let c = i % C;
  var t = i / C;
  let ow = t % OUT_W;
  t /= OUT_W;
  let oh = t % OUT_H;
  let n = t / OUT_H;
  let h0 = i32(oh * SH) - i32(PH);
  let w0 = i32(ow * SW) - i32(PW);
  var best = 0.0;
  var best_idx = -1;
  for (var kh = 0u; kh < KH; kh++) {
    let h = h0 + i32(kh);
    if (h < 0 || h >= i32(H)) {
      continue;
    }
    for (var kw = 0u; kw < KW; kw++) {
      let w = w0 + i32(kw);
      if (w < 0 || w >= i32(W)) {
        continue;
      }
      let v = mp_x[((n * H + u32(h)) * W + u32(w)) * C + c];
      // Once a NaN is chosen only a later NaN replaces it (comparisons with NaN are false).
      if (best_idx < 0 || v > best || is_nan(v)) {
        best = v;
        best_idx = h * i32(W) + w;
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
  let c = i % C;
  var t = i / C;
  let w = t % W;
  t /= W;
  let h = t % H;
  let n = t / H;
  // Outputs whose window [o·S − P, o·S − P + K − 1] contains h: o ≤ (h + P)/S and
  // o·S + K > h + P, i.e. at most ⌈K/S⌉ candidates counting down from (h + P)/S. A fixed trip
  // count keeps every lane of a SIMD group in step.
  let hp = h + PH;
  let wp = w + PW;
  let me = i32(h * W + w);
  var acc = 0.0;
  for (var a = 0u; a < CAND_H; a++) {
    let oh = hp / SH - a; // wraps past 0 to a huge value, rejected by oh < OUT_H
    if (oh >= OUT_H || oh * SH + KH <= hp) {
      continue;
    }
    for (var b = 0u; b < CAND_W; b++) {
      let ow = wp / SW - b;
      if (ow >= OUT_W || ow * SW + KW <= wp) {
        continue;
      }
      let o = ((n * OUT_H + oh) * OUT_W + ow) * C + c;
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
