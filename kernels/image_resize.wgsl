// Pillow's 8-bit BILINEAR resize (Resample.c, as src/image/resize.ts) of a batch of same-size
// views, fused with a crop window of the resized image (torchvision CenterCrop, zero padding
// outside), for src/transforms/resize_gpu.ts. Pixels are packed one per u32 as
// r | g << 8 | b << 16.
//
// The host uploads Pillow's per-axis coefficients (bounds: first source index and tap count per
// output pixel; weights: `ksize` fixed-point weights per output pixel, 22 fractional bits), so
// both implementations evaluate the same integer sums: (2^21 + Σ w·v) then clip8. The sums stay
// below 2^30 (weights ≤ 2^22 summing to about 2^22, samples ≤ 255): i32 is exact.
//
// Pass 1 (resize_h) computes the horizontal pass only for the source rows the window's output
// rows read and the resized columns inside the window; pass 2 (resize_v) the vertical pass for
// the window's pixels. Each pixel of a pass depends only on its own coefficients, so computing
// a subset gives the same bytes as the full CPU resize followed by the crop.
//
// Both entry points run on a (column blocks of 64, rows, views) grid: no integer divisions,
// which llvmpipe cannot vectorise.

const PRECISION_BITS: u32 = 22u;

struct Params {
  // Views in the batch.
  views: u32,
  src_width: u32,
  src_height: u32,
  // Taps per output pixel of the horizontal and the vertical coefficients.
  h_ksize: u32,
  v_ksize: u32,
  // First source row the horizontal pass reads; rows of the intermediate per view.
  row_first: u32,
  rows: u32,
  // First resized column inside the window; columns of the intermediate per view.
  col_first: u32,
  cols: u32,
  // Window origin in resized coordinates (negative or past the edge: zero padding).
  win_left: i32,
  win_top: i32,
  win_width: u32,
  win_height: u32,
  // Resized size.
  out_width: u32,
  out_height: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> prm: Params;
@group(0) @binding(1) var<storage, read> bounds: array<i32>;
@group(0) @binding(2) var<storage, read> weights: array<i32>;
@group(0) @binding(3) var<storage, read> src: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

fn channels(p: u32) -> vec3i {
  return vec3i(i32(p & 0xffu), i32((p >> 8u) & 0xffu), i32((p >> 16u) & 0xffu));
}

// Pillow's clip8 of a fixed-point sum.
fn clip8(v: i32) -> u32 {
  if (v >= (1 << (PRECISION_BITS + 8u))) {
    return 255u;
  }
  if (v <= 0) {
    return 0u;
  }
  return u32(v >> PRECISION_BITS);
}

fn pack(acc: vec3i) -> u32 {
  return clip8(acc.x) | (clip8(acc.y) << 8u) | (clip8(acc.z) << 16u);
}

// Horizontal pass: dst = intermediate [views, rows, cols]; bounds/weights = horizontal ones.
// Grid: (ceil(cols / 64), rows, views).
@compute @workgroup_size(64)
fn resize_h(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= prm.cols) {
    return;
  }
  let r = gid.y;
  let v = gid.z;
  let xx = prm.col_first + j;
  let xmin = u32(bounds[2u * xx]);
  let n = u32(bounds[2u * xx + 1u]);
  let kb = xx * prm.h_ksize;
  let row = (v * prm.src_height + prm.row_first + r) * prm.src_width + xmin;
  var acc = vec3i(1 << (PRECISION_BITS - 1u));
  for (var t = 0u; t < n; t++) {
    acc += channels(src[row + t]) * weights[kb + t];
  }
  dst[(v * prm.rows + r) * prm.cols + j] = pack(acc);
}

// Vertical pass: src = intermediate, dst = window [views, win_height, win_width]; bounds/weights
// = vertical ones (first source index relative to the image, not to row_first).
// Grid: (ceil(win_width / 64), win_height, views).
@compute @workgroup_size(64)
fn resize_v(@builtin(global_invocation_id) gid: vec3u) {
  let ox = gid.x;
  if (ox >= prm.win_width) {
    return;
  }
  let oy = gid.y;
  let v = gid.z;
  let i = (v * prm.win_height + oy) * prm.win_width + ox;
  let rx = prm.win_left + i32(ox);
  let ry = prm.win_top + i32(oy);
  if (rx < 0 || ry < 0 || rx >= i32(prm.out_width) || ry >= i32(prm.out_height)) {
    dst[i] = 0u;
    return;
  }
  let yy = u32(ry);
  let ymin = u32(bounds[2u * yy]) - prm.row_first;
  let n = u32(bounds[2u * yy + 1u]);
  let kb = yy * prm.v_ksize;
  let col = u32(rx) - prm.col_first;
  var at = (v * prm.rows + ymin) * prm.cols + col;
  var acc = vec3i(1 << (PRECISION_BITS - 1u));
  for (var t = 0u; t < n; t++) {
    acc += channels(src[at]) * weights[kb + t];
    at += prm.cols;
  }
  dst[i] = pack(acc);
}
