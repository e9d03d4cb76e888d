// Backward passes of the NHWC / HWIO convolution (forward: kernels/conv2d.wgsl).
//
// Backward data runs the forward kernels of conv2d.wgsl on dy with repacked weights; this file
// holds the repack (`repack_phase`). For stride S the input pixels split into S x S phases
// (ih % S, iw % S); within one phase only the taps th = th0 + S*t contribute, so each phase is a
// stride-1 convolution of dy with a flipped, transposed sub-kernel [Th, Tw, Cout, Cin].
//
// Backward filter is a GEMM dw[(th, tw, ci), co] = sum_p x_col[p, (th, tw, ci)] * dy[p, co] over
// the output pixels p = (n, oy, ox). The pixel range is cut into `splits` chunks of output rows;
// each chunk writes its own partial sum (part[split][krows][Cout], or dw itself when splits = 1)
// and `reduce_splits` adds the chunks in split order. Every sum has a fixed order, so the result
// is bit-identical from run to run (no atomics).
//
// Families: wgrad_v4_* (Cin % 4 == 0, Cout % 4 == 0, register tiles as in conv2d.wgsl),
// wgrad_rows_r32x32 (any Cin, Cout % 4 == 0: each group of four reduction rows gathers its own
// four scalars), wgrad_scalar (any channel counts) and wgrad_wg64 (workgroup-memory tiles, any
// channel counts, for discrete GPUs). See conv2d.wgsl for why register tiles on llvmpipe.

override WG: u32 = 8u;

// ---------------------------------------------------------------------------------------------
// Weight repack for backward data.

struct Repack {
  k_w: u32,
  cin: u32,
  cout: u32,
  stride: u32,
  th0: u32,
  tw0: u32,
  t_h: u32,
  t_w: u32,
  base: u32,
  total: u32, // t_h * t_w * cout * cin
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> R: Repack;
@group(0) @binding(1) var<storage, read> rp_w: array<f32>;
@group(0) @binding(2) var<storage, read_write> rp_out: array<f32>;

// rp_out[base + ((t*t_w + u)*Cout + co)*Cin + ci] = w[th0 + S*(t_h-1-t), tw0 + S*(t_w-1-u), ci, co]
// Grid [ceil(Cin / 64), Cout, t_h * t_w]: the workgroup id carries (co, tap), so an invocation
// divides only once (integer division is scalarised on the software adapter).
@compute @workgroup_size(64)
fn repack_phase(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let ci = wid.x * 64u + lid;
  if (ci >= R.cin) {
    return;
  }
  let co = wid.y;
  let tap = wid.z;
  let t = tap / R.t_w;
  let u = tap - t * R.t_w;
  let th = R.th0 + R.stride * (R.t_h - 1u - t);
  let tw = R.tw0 + R.stride * (R.t_w - 1u - u);
  rp_out[R.base + (tap * R.cout + co) * R.cin + ci] =
    rp_w[((th * R.k_w + tw) * R.cin + ci) * R.cout + co];
}

// ---------------------------------------------------------------------------------------------
// Backward filter.

struct Wgrad {
  batch: u32,
  in_h: u32,
  in_w: u32,
  cin: u32,
  out_h: u32,
  out_w: u32,
  cout: u32,
  k_w: u32,
  stride: u32,
  pad_h: i32,
  pad_w: i32,
  krows: u32, // k_h * k_w * cin
  rows_per_split: u32, // output rows (n, oy) per split
  splits: u32,
  tiles_k: u32,
  tiles_n: u32,
  ci_tiles: u32, // wgrad_v4: channel tiles per tap
  tasks: u32, // splits * tiles_k * tiles_n
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> G: Wgrad;
@group(0) @binding(1) var<storage, read> gx4: array<vec4f>;
@group(0) @binding(2) var<storage, read> gdy4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> part4: array<vec4f>;

@group(0) @binding(1) var<storage, read> gxs: array<f32>;
@group(0) @binding(2) var<storage, read> gdys: array<f32>;
@group(0) @binding(3) var<storage, read_write> parts: array<f32>;

struct WTask {
  split: u32,
  tk: u32,
  tn: u32,
  live: bool,
  r0: u32, // first output row (n * out_h + oy) of the split
  r1: u32, // one past the last
}

// Task order: column tile fastest, then reduction-row tile, then split.
fn wtask(wid: vec3u, nwg: vec3u, lid: u32) -> WTask {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let c = min(i, G.tasks - 1u);
  let tn = c % G.tiles_n;
  let tk = (c / G.tiles_n) % G.tiles_k;
  let split = c / (G.tiles_n * G.tiles_k);
  let r0 = split * G.rows_per_split;
  let r1 = min(r0 + G.rows_per_split, G.batch * G.out_h);
  return WTask(split, tk, tn, i < G.tasks, r0, r1);
}

struct Blocks8 {
  lo: vec4u,
  hi: vec4u,
}

// Eight consecutive vec4 blocks from `first`, clamped below `count`.
fn blocks8(first: u32, count: u32) -> Blocks8 {
  let last = vec4u(count - 1u);
  return Blocks8(
    min(vec4u(first) + vec4u(0u, 1u, 2u, 3u), last),
    min(vec4u(first) + vec4u(4u, 5u, 6u, 7u), last),
  );
}

fn outer(u: vec4f, v: vec4f) -> mat4x4f {
  return mat4x4f(u * v.x, u * v.y, u * v.z, u * v.w);
}

// 32 output channels of one group of four reduction rows: block j is a mat4x4f whose column i
// holds the 32-channel slice j of reduction row i.
struct Acc8 {
  b0: mat4x4f,
  b1: mat4x4f,
  b2: mat4x4f,
  b3: mat4x4f,
  b4: mat4x4f,
  b5: mat4x4f,
  b6: mat4x4f,
  b7: mat4x4f,
}

struct Acc4 {
  b0: mat4x4f,
  b1: mat4x4f,
  b2: mat4x4f,
  b3: mat4x4f,
}

// dy of one pixel across a 32-channel tile.
struct Dy8 {
  b0: vec4f,
  b1: vec4f,
  b2: vec4f,
  b3: vec4f,
  b4: vec4f,
  b5: vec4f,
  b6: vec4f,
  b7: vec4f,
}

fn load_dy8(o: u32, c: Blocks8) -> Dy8 {
  return Dy8(
    gdy4[o + c.lo.x],
    gdy4[o + c.lo.y],
    gdy4[o + c.lo.z],
    gdy4[o + c.lo.w],
    gdy4[o + c.hi.x],
    gdy4[o + c.hi.y],
    gdy4[o + c.hi.z],
    gdy4[o + c.hi.w],
  );
}

fn fma8(a: Acc8, d: Dy8, xv: vec4f) -> Acc8 {
  return Acc8(
    a.b0 + outer(d.b0, xv),
    a.b1 + outer(d.b1, xv),
    a.b2 + outer(d.b2, xv),
    a.b3 + outer(d.b3, xv),
    a.b4 + outer(d.b4, xv),
    a.b5 + outer(d.b5, xv),
    a.b6 + outer(d.b6, xv),
    a.b7 + outer(d.b7, xv),
  );
}

fn fma4(a: Acc4, o: u32, c: vec4u, xv: vec4f) -> Acc4 {
  return Acc4(
    a.b0 + outer(gdy4[o + c.x], xv),
    a.b1 + outer(gdy4[o + c.y], xv),
    a.b2 + outer(gdy4[o + c.z], xv),
    a.b3 + outer(gdy4[o + c.w], xv),
  );
}

// Stores one block: reduction rows k0 .. k0 + 3 (those below `kmax`), channel block cb.
fn store_block(a: mat4x4f, split: u32, k0: u32, kmax: u32, cb: u32) {
  let s = G.cout / 4u;
  if (cb >= s) {
    return;
  }
  let base = split * G.krows;
  if (k0 < kmax) {
    part4[(base + k0) * s + cb] = a[0];
  }
  if (k0 + 1u < kmax) {
    part4[(base + k0 + 1u) * s + cb] = a[1];
  }
  if (k0 + 2u < kmax) {
    part4[(base + k0 + 2u) * s + cb] = a[2];
  }
  if (k0 + 3u < kmax) {
    part4[(base + k0 + 3u) * s + cb] = a[3];
  }
}

fn store8(a: Acc8, split: u32, k0: u32, kmax: u32, cb: u32) {
  store_block(a.b0, split, k0, kmax, cb);
  store_block(a.b1, split, k0, kmax, cb + 1u);
  store_block(a.b2, split, k0, kmax, cb + 2u);
  store_block(a.b3, split, k0, kmax, cb + 3u);
  store_block(a.b4, split, k0, kmax, cb + 4u);
  store_block(a.b5, split, k0, kmax, cb + 5u);
  store_block(a.b6, split, k0, kmax, cb + 6u);
  store_block(a.b7, split, k0, kmax, cb + 7u);
}

fn store4(a: Acc4, split: u32, k0: u32, kmax: u32, cb: u32) {
  store_block(a.b0, split, k0, kmax, cb);
  store_block(a.b1, split, k0, kmax, cb + 1u);
  store_block(a.b2, split, k0, kmax, cb + 2u);
  store_block(a.b3, split, k0, kmax, cb + 3u);
}

// One output row's geometry for filter tap (th, tw).
struct WRow {
  xrow: u32, // (n * in_h + ih) * in_w, valid when ok
  ok: bool,
  iw0: i32, // input column of output column 0
}

fn wrow(r: u32, th: u32, tw: u32) -> WRow {
  let n = r / G.out_h;
  let oy = r % G.out_h;
  let ih = i32(oy * G.stride) - G.pad_h + i32(th);
  let ok = ih >= 0 && ih < i32(G.in_h);
  return WRow(select(0u, (n * G.in_h + u32(ih)) * G.in_w, ok), ok, i32(tw) - G.pad_w);
}

// Reduction rows: 32 input channels of one tap. Columns: 32 output channels.
@compute @workgroup_size(WG)
fn wgrad_v4_r32x32(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = wtask(wid, nwg, lid);
  let cin4 = G.cin / 4u;
  let cout4 = G.cout / 4u;
  let tap = t.tk / G.ci_tiles;
  let cit = t.tk % G.ci_tiles;
  let th = tap / G.k_w;
  let tw = tap % G.k_w;
  let ci = blocks8(cit * 8u, cin4);
  let co = blocks8(t.tn * 8u, cout4);
  var a0 = Acc8();
  var a1 = Acc8();
  var a2 = Acc8();
  var a3 = Acc8();
  var a4 = Acc8();
  var a5 = Acc8();
  var a6 = Acc8();
  var a7 = Acc8();
  let z = vec4f(0.0);
  for (var r = t.r0; r < t.r1; r++) {
    let g = wrow(r, th, tw);
    var dyo = r * G.out_w * cout4;
    var iw = g.iw0;
    for (var ox = 0u; ox < G.out_w; ox++) {
      let ok = g.ok && iw >= 0 && iw < i32(G.in_w);
      let xo = select(0u, (g.xrow + u32(iw)) * cin4, ok);
      let d = load_dy8(dyo, co);
      a0 = fma8(a0, d, select(z, gx4[xo + ci.lo.x], ok));
      a1 = fma8(a1, d, select(z, gx4[xo + ci.lo.y], ok));
      a2 = fma8(a2, d, select(z, gx4[xo + ci.lo.z], ok));
      a3 = fma8(a3, d, select(z, gx4[xo + ci.lo.w], ok));
      a4 = fma8(a4, d, select(z, gx4[xo + ci.hi.x], ok));
      a5 = fma8(a5, d, select(z, gx4[xo + ci.hi.y], ok));
      a6 = fma8(a6, d, select(z, gx4[xo + ci.hi.z], ok));
      a7 = fma8(a7, d, select(z, gx4[xo + ci.hi.w], ok));
      dyo += cout4;
      iw += i32(G.stride);
    }
  }
  if (!t.live) {
    return;
  }
  // Rows of channel block b: tap * cin + 4 * b .. ; rows past this tap's channels are skipped.
  let k0 = tap * G.cin + cit * 32u;
  let kmax = (tap + 1u) * G.cin;
  let cb = t.tn * 8u;
  store8(a0, t.split, k0, kmax, cb);
  store8(a1, t.split, k0 + 4u, kmax, cb);
  store8(a2, t.split, k0 + 8u, kmax, cb);
  store8(a3, t.split, k0 + 12u, kmax, cb);
  store8(a4, t.split, k0 + 16u, kmax, cb);
  store8(a5, t.split, k0 + 20u, kmax, cb);
  store8(a6, t.split, k0 + 24u, kmax, cb);
  store8(a7, t.split, k0 + 28u, kmax, cb);
}

// Reduction rows: 16 input channels of one tap. Columns: 16 output channels.
@compute @workgroup_size(WG)
fn wgrad_v4_r16x16(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = wtask(wid, nwg, lid);
  let cin4 = G.cin / 4u;
  let cout4 = G.cout / 4u;
  let tap = t.tk / G.ci_tiles;
  let cit = t.tk % G.ci_tiles;
  let th = tap / G.k_w;
  let tw = tap % G.k_w;
  let ci = min(vec4u(cit * 4u) + vec4u(0u, 1u, 2u, 3u), vec4u(cin4 - 1u));
  let co = min(vec4u(t.tn * 4u) + vec4u(0u, 1u, 2u, 3u), vec4u(cout4 - 1u));
  var a0 = Acc4();
  var a1 = Acc4();
  var a2 = Acc4();
  var a3 = Acc4();
  let z = vec4f(0.0);
  for (var r = t.r0; r < t.r1; r++) {
    let g = wrow(r, th, tw);
    var dyo = r * G.out_w * cout4;
    var iw = g.iw0;
    for (var ox = 0u; ox < G.out_w; ox++) {
      let ok = g.ok && iw >= 0 && iw < i32(G.in_w);
      let xo = select(0u, (g.xrow + u32(iw)) * cin4, ok);
      a0 = fma4(a0, dyo, co, select(z, gx4[xo + ci.x], ok));
      a1 = fma4(a1, dyo, co, select(z, gx4[xo + ci.y], ok));
      a2 = fma4(a2, dyo, co, select(z, gx4[xo + ci.z], ok));
      a3 = fma4(a3, dyo, co, select(z, gx4[xo + ci.w], ok));
      dyo += cout4;
      iw += i32(G.stride);
    }
  }
  if (!t.live) {
    return;
  }
  let k0 = tap * G.cin + cit * 16u;
  let kmax = (tap + 1u) * G.cin;
  let cb = t.tn * 4u;
  store4(a0, t.split, k0, kmax, cb);
  store4(a1, t.split, k0 + 4u, kmax, cb);
  store4(a2, t.split, k0 + 8u, kmax, cb);
  store4(a3, t.split, k0 + 12u, kmax, cb);
}

// Four consecutive reduction rows k .. k + 3 decoded into their tap offsets and channels.
struct KRows {
  dh: vec4i, // th - pad_h
  dw: vec4i, // tw - pad_w
  ci: vec4u,
  ok: vec4<bool>, // k < krows
}

fn krows(k0: u32) -> KRows {
  let k = vec4u(k0) + vec4u(0u, 1u, 2u, 3u);
  let ok = k < vec4u(G.krows);
  let kc = min(k, vec4u(G.krows - 1u));
  let tap = kc / G.cin;
  return KRows(
    vec4i(tap / G.k_w) - G.pad_h,
    vec4i(tap % G.k_w) - G.pad_w,
    kc % G.cin,
    ok,
  );
}

// x at output pixel (n, oy, ox) for four reduction rows.
fn gather_x(kr: KRows, n: u32, oy: u32, ox: u32) -> vec4f {
  let ih = vec4i(i32(oy * G.stride)) + kr.dh;
  let iw = vec4i(i32(ox * G.stride)) + kr.dw;
  let ok = kr.ok & (ih >= vec4i(0)) & (ih < vec4i(i32(G.in_h))) & (iw >= vec4i(0)) &
    (iw < vec4i(i32(G.in_w)));
  let off = select(vec4u(0u), ((vec4u(n * G.in_h) + vec4u(ih)) * G.in_w + vec4u(iw)) * G.cin + kr.ci, ok);
  return select(vec4f(0.0), vec4f(gxs[off.x], gxs[off.y], gxs[off.z], gxs[off.w]), ok);
}

// Any Cin (the stem): 32 consecutive reduction rows x 32 output channels.
@compute @workgroup_size(WG)
fn wgrad_rows_r32x32(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = wtask(wid, nwg, lid);
  let cout4 = G.cout / 4u;
  let k0 = t.tk * 32u;
  let k_0 = krows(k0);
  let k_1 = krows(k0 + 4u);
  let k_2 = krows(k0 + 8u);
  let k_3 = krows(k0 + 12u);
  let k_4 = krows(k0 + 16u);
  let k_5 = krows(k0 + 20u);
  let k_6 = krows(k0 + 24u);
  let k_7 = krows(k0 + 28u);
  let co = blocks8(t.tn * 8u, cout4);
  var a0 = Acc8();
  var a1 = Acc8();
  var a2 = Acc8();
  var a3 = Acc8();
  var a4 = Acc8();
  var a5 = Acc8();
  var a6 = Acc8();
  var a7 = Acc8();
  for (var r = t.r0; r < t.r1; r++) {
    let n = r / G.out_h;
    let oy = r % G.out_h;
    var dyo = r * G.out_w * cout4;
    for (var ox = 0u; ox < G.out_w; ox++) {
      let d = load_dy8(dyo, co);
      a0 = fma8(a0, d, gather_x(k_0, n, oy, ox));
      a1 = fma8(a1, d, gather_x(k_1, n, oy, ox));
      a2 = fma8(a2, d, gather_x(k_2, n, oy, ox));
      a3 = fma8(a3, d, gather_x(k_3, n, oy, ox));
      a4 = fma8(a4, d, gather_x(k_4, n, oy, ox));
      a5 = fma8(a5, d, gather_x(k_5, n, oy, ox));
      a6 = fma8(a6, d, gather_x(k_6, n, oy, ox));
      a7 = fma8(a7, d, gather_x(k_7, n, oy, ox));
      dyo += cout4;
    }
  }
  if (!t.live) {
    return;
  }
  let cb = t.tn * 8u;
  store8(a0, t.split, k0, G.krows, cb);
  store8(a1, t.split, k0 + 4u, G.krows, cb);
  store8(a2, t.split, k0 + 8u, G.krows, cb);
  store8(a3, t.split, k0 + 12u, G.krows, cb);
  store8(a4, t.split, k0 + 16u, G.krows, cb);
  store8(a5, t.split, k0 + 20u, G.krows, cb);
  store8(a6, t.split, k0 + 24u, G.krows, cb);
  store8(a7, t.split, k0 + 28u, G.krows, cb);
}

// Any channel counts: four reduction rows x four output channels, scalar loads and stores.
@compute @workgroup_size(WG)
fn wgrad_scalar(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = wtask(wid, nwg, lid);
  let k0 = t.tk * 4u;
  let kr = krows(k0);
  let co = vec4u(t.tn * 4u) + vec4u(0u, 1u, 2u, 3u);
  let cok = co < vec4u(G.cout);
  let cc = min(co, vec4u(G.cout - 1u));
  var acc = mat4x4f(); // column i: reduction row k0 + i, rows: channels
  for (var r = t.r0; r < t.r1; r++) {
    let n = r / G.out_h;
    let oy = r % G.out_h;
    var dyo = r * G.out_w * G.cout;
    for (var ox = 0u; ox < G.out_w; ox++) {
      let d = select(vec4f(0.0), vec4f(gdys[dyo + cc.x], gdys[dyo + cc.y], gdys[dyo + cc.z], gdys[dyo + cc.w]), cok);
      acc += outer(d, gather_x(kr, n, oy, ox));
      dyo += G.cout;
    }
  }
  if (!t.live) {
    return;
  }
  let base = t.split * G.krows;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      if (k0 + i < G.krows && co[j] < G.cout) {
        parts[(base + k0 + i) * G.cout + co[j]] = acc[i][j];
      }
    }
  }
}

// Workgroup-memory tiles: 64 reduction rows x 64 channels per workgroup of 256 invocations, 16
// pixels at a time staged in workgroup memory; 4 x 4 outputs per invocation. Any channel counts.
const WT: u32 = 64u;
const WP: u32 = 16u;

var<workgroup> tile_x: array<f32, 1024>; // [WP][WT]: pixel, reduction row
var<workgroup> tile_d: array<f32, 1024>; // [WP][WT]: pixel, channel

@compute @workgroup_size(256)
fn wgrad_wg64(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let gi = wid.x + wid.y * nwg.x;
  let gc = min(gi, G.tasks - 1u);
  let live = gi < G.tasks;
  let tn = gc % G.tiles_n;
  let tk = (gc / G.tiles_n) % G.tiles_k;
  let split = gc / (G.tiles_n * G.tiles_k);
  let p0 = split * G.rows_per_split * G.out_w;
  let p1 = min(p0 + G.rows_per_split * G.out_w, G.batch * G.out_h * G.out_w);

  // The reduction row and channel this invocation stages.
  let lc = lid % WT;
  let lk = tk * WT + lc;
  let lkc = min(lk, G.krows - 1u);
  let ltap = lkc / G.cin;
  let lci = lkc % G.cin;
  let ldh = i32(ltap / G.k_w) - G.pad_h;
  let ldw = i32(ltap % G.k_w) - G.pad_w;
  let lco = tn * WT + lc;

  let ty = lid / 16u; // reduction rows ty*4 ..
  let tx = lid % 16u; // channels tx*4 ..
  var acc = mat4x4f(); // column i: reduction row ty*4 + i, rows: channels tx*4 ..

  for (var q0 = p0; q0 < p1; q0 += WP) {
    for (var pp = lid / WT; pp < WP; pp += 256u / WT) {
      let q = q0 + pp;
      let ox = q % G.out_w;
      let row = q / G.out_w;
      let oy = row % G.out_h;
      let n = row / G.out_h;
      let ih = i32(oy * G.stride) + ldh;
      let iw = i32(ox * G.stride) + ldw;
      let ok = q < p1 && lk < G.krows && ih >= 0 && iw >= 0 && ih < i32(G.in_h) &&
        iw < i32(G.in_w);
      let xo = select(0u, ((n * G.in_h + u32(ih)) * G.in_w + u32(iw)) * G.cin + lci, ok);
      tile_x[pp * WT + lc] = select(0.0, gxs[xo], ok);
      let dok = q < p1 && lco < G.cout;
      tile_d[pp * WT + lc] = select(0.0, gdys[select(0u, q * G.cout + lco, dok)], dok);
    }
    workgroupBarrier();
    for (var pp = 0u; pp < WP; pp++) {
      let xv = vec4f(
        tile_x[pp * WT + ty * 4u],
        tile_x[pp * WT + ty * 4u + 1u],
        tile_x[pp * WT + ty * 4u + 2u],
        tile_x[pp * WT + ty * 4u + 3u],
      );
      let dv = vec4f(
        tile_d[pp * WT + tx * 4u],
        tile_d[pp * WT + tx * 4u + 1u],
        tile_d[pp * WT + tx * 4u + 2u],
        tile_d[pp * WT + tx * 4u + 3u],
      );
      acc += outer(dv, xv);
    }
    workgroupBarrier();
  }
  if (!live) {
    return;
  }
  let base = split * G.krows;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let k = tk * WT + ty * 4u + i;
      let co = tn * WT + tx * 4u + j;
      if (k < G.krows && co < G.cout) {
        parts[(base + k) * G.cout + co] = acc[i][j];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Deterministic reduction of the split partial sums: out[i] = sum over s in order of part[s][i].

struct Reduce {
  len: u32, // elements (vec4 entry: vec4s) per split
  splits: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> RD: Reduce;
@group(0) @binding(1) var<storage, read> red_in4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> red_out4: array<vec4f>;
@group(0) @binding(1) var<storage, read> red_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> red_out: array<f32>;

@compute @workgroup_size(64)
fn reduce_splits_v4(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= RD.len) {
    return;
  }
  var s = red_in4[i];
  for (var k = 1u; k < RD.splits; k++) {
    s += red_in4[k * RD.len + i];
  }
  red_out4[i] = s;
}

@compute @workgroup_size(64)
fn reduce_splits(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= RD.len) {
    return;
  }
  var s = red_in[i];
  for (var k = 1u; k < RD.splits; k++) {
    s += red_in[k * RD.len + i];
  }
  red_out[i] = s;
}
