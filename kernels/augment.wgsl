// Geometry and finishing kernels of the MoCo v2 augmentation policies on packed 8-bit RGB images
// (one u32 per pixel: R | G << 8 | B << 16; see image_color.wgsl):
// - resize_h / resize_v: Pillow's bilinear resampling with antialias (Resample.c: separable
//   triangle filter, 22-bit fixed-point weights computed on the CPU, horizontal pass first, each
//   pass clipped to uint8) of an integer crop box, producing only a window of the resized image
//   (the centre crop), optionally mirrored left-right;
// - box_blur: one pass of Pillow's extended box blur (BoxBlur.c) along x or y;
// - normalize: ToTensor + Normalize through a 768-entry float32 table into NHWC float32.
// Grids are 2-D: x strides over a view's pixels, y is the view.

const WG: u32 = 256u;
const PRECISION_BITS: u32 = 22u;

fn unpack(p: u32) -> vec3u {
  return vec3u(p & 255u, (p >> 8u) & 255u, (p >> 16u) & 255u);
}

fn pack(c: vec3u) -> u32 {
  return c.x | (c.y << 8u) | (c.z << 16u);
}

fn clip8(v: i32) -> u32 {
  if (v >= (1 << (PRECISION_BITS + 8u))) {
    return 255u;
  }
  if (v <= 0) {
    return 0u;
  }
  return u32(v >> PRECISION_BITS);
}

struct Params {
  n_views: u32,
  a: u32,
  b: u32,
  c: u32,
}

@group(0) @binding(0) var<uniform> rh: Params;
// Per view, 3 × vec4u: (srcOffset, srcWidth, cropLeft, cropTop), (rows, outWidth, interOffset,
// coefOffset), (ksize, 0, 0, 0).
@group(0) @binding(1) var<storage, read> rh_views: array<vec4u>;
// Per view at coefOffset: outWidth (first tap, tap count) pairs, then outWidth × ksize weights.
@group(0) @binding(2) var<storage, read> rh_coef: array<i32>;
@group(0) @binding(3) var<storage, read> rh_src: array<u32>;
@group(0) @binding(4) var<storage, read_write> rh_inter: array<u32>;

// Horizontal pass over every row of the crop box, for the window's columns only.
@compute @workgroup_size(256)
fn resize_h(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.y;
  if (v >= rh.n_views) {
    return;
  }
  let a = rh_views[3u * v];
  let b = rh_views[3u * v + 1u];
  let ksize = rh_views[3u * v + 2u].x;
  let rows = b.x;
  let out_w = b.y;
  let n = rows * out_w;
  for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
    let x = i % out_w;
    let y = i / out_w;
    let first = u32(rh_coef[b.w + 2u * x]);
    let taps = u32(rh_coef[b.w + 2u * x + 1u]);
    let wbase = b.w + 2u * out_w + x * ksize;
    let row = a.x + (a.w + y) * a.y + a.z + first;
    var acc = vec3i(1 << (PRECISION_BITS - 1u));
    for (var t = 0u; t < taps; t++) {
      acc += rh_coef[wbase + t] * vec3i(unpack(rh_src[row + t]));
    }
    rh_inter[b.z + i] = pack(vec3u(clip8(acc.x), clip8(acc.y), clip8(acc.z)));
  }
}

@group(0) @binding(0) var<uniform> rv: Params;
// Per view, 2 × vec4u: (interOffset, outWidth, outHeight, dstOffset), (coefOffset, ksize, flip, 0).
@group(0) @binding(1) var<storage, read> rv_views: array<vec4u>;
@group(0) @binding(2) var<storage, read> rv_coef: array<i32>;
@group(0) @binding(3) var<storage, read> rv_inter: array<u32>;
@group(0) @binding(4) var<storage, read_write> rv_dst: array<u32>;

// Vertical pass for the window's rows; a flipped view is written mirrored left-right.
@compute @workgroup_size(256)
fn resize_v(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.y;
  if (v >= rv.n_views) {
    return;
  }
  let a = rv_views[2u * v];
  let b = rv_views[2u * v + 1u];
  let out_w = a.y;
  let n = out_w * a.z;
  let ksize = b.y;
  for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
    let x = i % out_w;
    let y = i / out_w;
    let first = u32(rv_coef[b.x + 2u * y]);
    let taps = u32(rv_coef[b.x + 2u * y + 1u]);
    let wbase = b.x + 2u * a.z + y * ksize;
    var acc = vec3i(1 << (PRECISION_BITS - 1u));
    for (var t = 0u; t < taps; t++) {
      acc += rv_coef[wbase + t] * vec3i(unpack(rv_inter[a.x + (first + t) * out_w + x]));
    }
    var ox = x;
    if (b.z != 0u) {
      ox = out_w - 1u - x;
    }
    rv_dst[a.w + y * out_w + ox] = pack(vec3u(clip8(acc.x), clip8(acc.y), clip8(acc.z)));
  }
}

@group(0) @binding(0) var<uniform> bb: Params;
// Per view, 2 × vec4u: (offset, width, height, enabled), (radius, ww, fw, 0).
@group(0) @binding(1) var<storage, read> bb_views: array<vec4u>;
@group(0) @binding(2) var<storage, read> bb_src: array<u32>;
@group(0) @binding(3) var<storage, read_write> bb_dst: array<u32>;

// One extended-box pass along x (bb.a = 0) or y (bb.a = 1): 2r + 1 clamped taps at weight ww
// plus the two taps at distance r + 1 at weight fw, (Σ + 2^23) >> 24. The u32 sums stay below
// 255 · 2^24 + 2^23, as in Pillow. A disabled view is copied.
@compute @workgroup_size(256)
fn box_blur(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.y;
  if (v >= bb.n_views) {
    return;
  }
  let a = bb_views[2u * v];
  let p = bb_views[2u * v + 1u];
  let w = a.y;
  let n = w * a.z;
  let r = i32(p.x);
  for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
    if (a.w == 0u) {
      bb_dst[a.x + i] = bb_src[a.x + i];
      continue;
    }
    let x = i % w;
    let y = i / w;
    var pos = i32(x);
    var len = i32(w);
    var base = a.x + y * w;
    var stride = 1u;
    if (bb.a == 1u) {
      pos = i32(y);
      len = i32(a.z);
      base = a.x + x;
      stride = w;
    }
    var acc = vec3u(0u);
    for (var k = -r; k <= r; k++) {
      let j = u32(clamp(pos + k, 0, len - 1));
      acc += unpack(bb_src[base + j * stride]);
    }
    let left = unpack(bb_src[base + u32(clamp(pos - r - 1, 0, len - 1)) * stride]);
    let right = unpack(bb_src[base + u32(clamp(pos + r + 1, 0, len - 1)) * stride]);
    let bulk = acc * p.y + (left + right) * p.z;
    bb_dst[a.x + i] = pack((bulk + vec3u(1u << 23u)) >> vec3u(24u));
  }
}

@group(0) @binding(0) var<uniform> nm: Params;
// Per view: (srcOffset, 0, 0, 0); views [nm.b, nm.b + n_views) of the batch, written from
// element nm.c of the bound output range.
@group(0) @binding(1) var<storage, read> nm_views: array<vec4u>;
// lut[c · 256 + v]: the float32 ToTensor + Normalize value of byte v in channel c.
@group(0) @binding(2) var<storage, read> nm_lut: array<f32>;
@group(0) @binding(3) var<storage, read> nm_src: array<u32>;
@group(0) @binding(4) var<storage, read_write> nm_out: array<f32>;

// size × size packed views → NHWC float32 [n_views, size, size, 3] (nm.a = size).
@compute @workgroup_size(256)
fn normalize(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.y;
  if (v >= nm.n_views) {
    return;
  }
  let src = nm_views[nm.b + v].x;
  let n = nm.a * nm.a;
  for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
    let c = unpack(nm_src[src + i]);
    let o = nm.c + (v * n + i) * 3u;
    nm_out[o] = nm_lut[c.x];
    nm_out[o + 1u] = nm_lut[256u + c.y];
    nm_out[o + 2u] = nm_lut[512u + c.z];
  }
}
