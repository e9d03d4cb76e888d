// Pillow's 8-bit BILINEAR resize (Resample.c) of a batch of packed views, the one GPU resize
// (src/image/gpu/resize.ts): each view resizes a crop box of its source view and keeps a window
// of the result (zero outside the resized image), optionally mirrored left-right. It serves the
// MoCo augmentations (RandomResizedCrop, Resize + CenterCrop) and the synthetic views
// (Resize(r) + CenterCrop(c)).
//
// The host uploads Pillow's per-axis coefficients from `resizeCoefficients` (src/image/resize.ts,
// the one source of resize taps), already cut to each view's window: per window column (row)
// the first source index and the tap count (0 outside the resized image, which yields 0), then
// `ksize` fixed-point weights with 22 fractional bits. Both implementations evaluate the same
// integer sums, (2^21 + Σ w·v) then clip8; the sums stay below 2^30, so i32 is exact.
//
// Pass 1 (resize_h) runs the horizontal pass only over the source rows the window's rows read,
// for the window's columns; pass 2 (resize_v) the vertical pass for the window's pixels. Each
// pixel of a pass depends only on its own coefficients, so computing a subset gives the same
// bytes as the full CPU resize followed by the crop. Both run on a (column blocks of 64, rows,
// views) grid: no integer divisions, which llvmpipe cannot vectorise.

struct ResizeParams {
  views: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> rh: ResizeParams;
// Per view, 3 × vec4u: (srcOffset, srcWidth, boxLeft, firstRow), (rows, width, interOffset,
// coefOffset), (ksize, 0, 0, 0). firstRow is the first source row read (box top included).
@group(0) @binding(1) var<storage, read> rh_views: array<vec4u>;
// At coefOffset: width (first tap, tap count) pairs, then width × ksize weights.
@group(0) @binding(2) var<storage, read> rh_coef: array<i32>;
@group(0) @binding(3) var<storage, read> rh_src: array<u32>;
@group(0) @binding(4) var<storage, read_write> rh_inter: array<u32>;

// Horizontal pass: intermediate [rows, width] of view gid.z. Grid: (⌈width / 64⌉, rows, views).
@compute @workgroup_size(64)
fn resize_h(@builtin(global_invocation_id) gid: vec3u) {
  let v = gid.z;
  if (v >= rh.views) {
    return;
  }
  let a = rh_views[3u * v];
  let b = rh_views[3u * v + 1u];
  let x = gid.x;
  let r = gid.y;
  if (x >= b.y || r >= b.x) {
    return;
  }
  let ksize = rh_views[3u * v + 2u].x;
  let first = u32(rh_coef[b.w + 2u * x]);
  let taps = u32(rh_coef[b.w + 2u * x + 1u]);
  let wbase = b.w + 2u * b.y + x * ksize;
  let row = a.x + (a.w + r) * a.y + a.z + first;
  var acc = vec3i(1 << (PRECISION_BITS - 1u));
  for (var t = 0u; t < taps; t++) {
    acc += rh_coef[wbase + t] * vec3i(unpack(rh_src[row + t]));
  }
  rh_inter[b.z + r * b.y + x] = pack(vec3u(clip8(acc.x), clip8(acc.y), clip8(acc.z)));
}

@group(0) @binding(0) var<uniform> rv: ResizeParams;
// Per view, 2 × vec4u: (interOffset, width, height, dstOffset), (coefOffset, ksize, flip, 0).
@group(0) @binding(1) var<storage, read> rv_views: array<vec4u>;
// At coefOffset: height (first intermediate row, tap count) pairs, then height × ksize weights.
@group(0) @binding(2) var<storage, read> rv_coef: array<i32>;
@group(0) @binding(3) var<storage, read> rv_inter: array<u32>;
@group(0) @binding(4) var<storage, read_write> rv_dst: array<u32>;

// Vertical pass: the window [height, width] of view gid.z, mirrored when flip is set.
// Grid: (⌈width / 64⌉, height, views).
@compute @workgroup_size(64)
fn resize_v(@builtin(global_invocation_id) gid: vec3u) {
  let v = gid.z;
  if (v >= rv.views) {
    return;
  }
  let a = rv_views[2u * v];
  let b = rv_views[2u * v + 1u];
  let x = gid.x;
  let y = gid.y;
  if (x >= a.y || y >= a.z) {
    return;
  }
  let first = u32(rv_coef[b.x + 2u * y]);
  let taps = u32(rv_coef[b.x + 2u * y + 1u]);
  let wbase = b.x + 2u * a.z + y * b.y;
  var at = a.x + first * a.y + x;
  var acc = vec3i(1 << (PRECISION_BITS - 1u));
  for (var t = 0u; t < taps; t++) {
    acc += rv_coef[wbase + t] * vec3i(unpack(rv_inter[at]));
    at += a.y;
  }
  var ox = x;
  if (b.z != 0u) {
    ox = a.y - 1u - x;
  }
  rv_dst[a.w + y * a.y + ox] = pack(vec3u(clip8(acc.x), clip8(acc.y), clip8(acc.z)));
}
