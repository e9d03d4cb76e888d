// Convolution as an implicit GEMM, NHWC activations and HWIO weights [kH, kW, Cin, Cout]:
//   y[n, oy, ox, co] = sum_{th, tw, ci} x[n, oy*S - padH + th, ox*S - padW + tw, ci] * w[th, tw, ci, co]
// with GEMM rows m = (n, oy, ox), columns co and reduction k = (th, tw, ci); nothing is
// materialised (each invocation computes its input addresses). The same kernels run the backward
// data pass: src/ops/conv2d_backward.ts repacks the weights (flipped, transposed, one block per
// stride phase) and points the output grid at the phase's pixels through y_h0 / y_w0 / y_step.
//
// Epilogue (the eval fast path, BN already folded into w and bias): + bias[co], + residual
// (same layout as y), ReLU, switched by override constants.
//
// Families (entry points):
//   conv_v4_*   Cin % 4 == 0 and Cout % 4 == 0: x and w read as vec4.
//   conv_xs_*   Cout % 4 == 0, any Cin (the 7x7 stem, Cin = 3): x read as scalars along the
//               contiguous (tw, ci) run of one input row, w as vec4.
//   conv_scalar any channel counts: scalars everywhere, 4 pixels x 4 channels per invocation.
//   conv_wg64   any channel counts: 64x64 output tiles staged through workgroup memory (for
//               discrete GPUs; slow on the software adapter).
//
// Why register tiles without workgroup memory on Mesa's llvmpipe: it runs 8 invocations as the
// lanes of one SIMD register and executes every storage (and workgroup) load as a per-lane scalar
// loop, so a vec4 load costs about as much as 50 vector FMAs. The only thing that matters there is
// loads per FMA, so each invocation keeps a large tile (up to 32 pixels x 32 channels, 1024
// accumulators) and every loop over the tile is written out by hand: a loop the compiler does not
// unroll turns the accumulator array into scratch memory, which is slower still.
//
// Tile layout: pixels come in groups of four (Pix4); channels in blocks of four. An accumulator
// block is a mat4x4f whose column q holds the four channels of pixel q, so one k-step of four
// reduction rows is `acc += W * X` with W's columns the four weight rows and X's columns the four
// pixels' input vec4s (16 FMAs per block for one vec4 load per pixel and per weight row).
//
// Grid: 1-D (the host may split it into 2-D): workgroup g handles column tile g % tiles_n and
// row tiles (g / tiles_n) * WG + local index. Invocations past the last row tile repeat the last
// one and store nothing.

struct Conv {
  batch: u32,
  in_h: u32,
  in_w: u32,
  cin: u32,
  out_h: u32,
  out_w: u32,
  cout: u32,
  m: u32,
  k_h: u32,
  k_w: u32,
  stride: u32,
  _flags: u32, // unused (the epilogue is chosen by override constants)
  pad_h: i32,
  pad_w: i32,
  w_base: u32, // first element of the kernel inside w (backward-data phase blocks)
  tiles_n: u32,
  y_h: u32, // spatial size of the tensor y points into
  y_w: u32,
  y_h0: u32, // output pixel (i, j) of the grid goes to y[n, y_h0 + i*y_step, y_w0 + j*y_step]
  y_w0: u32,
  y_step: u32,
  tiles_m: u32,
  _pad0: u32,
  _pad1: u32,
}

override WG: u32 = 8u;

// Epilogue switches. Override constants rather than uniform flags: llvmpipe runs both sides of
// an `if` on a uniform value under a lane mask, so a disabled bias or residual would still cost
// a (masked) per-lane load loop for every output vector.
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;

@group(0) @binding(0) var<uniform> P: Conv;

@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> w4: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias4: array<vec4f>;
@group(0) @binding(4) var<storage, read> res4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y4: array<vec4f>;

// Scalar views of the same bindings for the families that cannot read vec4 (one entry point
// never uses both views of a binding).
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ws: array<f32>;
@group(0) @binding(3) var<storage, read> bias_s: array<f32>;
@group(0) @binding(4) var<storage, read> res_s: array<f32>;
@group(0) @binding(5) var<storage, read_write> ys: array<f32>;

// ---------------------------------------------------------------------------------------------
// Shared pieces

struct Task {
  tn: u32, // column tile
  tm: u32, // row tile (clamped to the last one)
  live: bool, // false for invocations past the last row tile
}

fn task(wid: vec3u, nwg: vec3u, lid: u32) -> Task {
  let g = wid.x + wid.y * nwg.x;
  let tn = g % P.tiles_n;
  let tm = (g / P.tiles_n) * WG + lid;
  return Task(tn, min(tm, P.tiles_m - 1u), tm < P.tiles_m);
}

// Position (n, i, j) of a GEMM row in the output grid. Tiles decode their first row with
// divisions once and step from there: vector integer division has no SIMD instruction and costs
// more than a 1x1 convolution's whole reduction loop when done for every pixel.
struct Cursor {
  n: u32,
  i: u32,
  j: u32,
}

fn cursor(m: u32) -> Cursor {
  let mc = min(m, P.m - 1u);
  let t = mc / P.out_w;
  return Cursor(t / P.out_h, t % P.out_h, mc % P.out_w);
}

fn advance(c: Cursor) -> Cursor {
  let wrap_j = c.j + 1u == P.out_w;
  let i = select(c.i, c.i + 1u, wrap_j);
  let wrap_i = i == P.out_h;
  return Cursor(select(c.n, c.n + 1u, wrap_i), select(i, 0u, wrap_i), select(c.j + 1u, 0u, wrap_j));
}

// Four consecutive GEMM rows (output pixels): where their windows start and where they are stored.
struct Pix4 {
  nh: vec4u, // n * in_h
  ih: vec4i, // first input row of the window
  iw: vec4i, // first input column of the window
  yo: vec4u, // element offset of the pixel's channel 0 in y
  live: vec4<bool>, // the row exists (rows past m read nothing and store nothing)
}

// Rows m0 .. m0 + 3; `c` holds row m0 on entry and row m0 + 4 on return.
fn pix4(c: ptr<function, Cursor>, m0: u32, live: bool) -> Pix4 {
  let c0 = *c;
  let c1 = advance(c0);
  let c2 = advance(c1);
  let c3 = advance(c2);
  *c = advance(c3);
  let n = vec4u(c0.n, c1.n, c2.n, c3.n);
  let i = vec4u(c0.i, c1.i, c2.i, c3.i);
  let j = vec4u(c0.j, c1.j, c2.j, c3.j);
  let yo = ((n * P.y_h + P.y_h0 + i * P.y_step) * P.y_w + P.y_w0 + j * P.y_step) * P.cout;
  return Pix4(
    n * P.in_h,
    vec4i(i * P.stride) - P.pad_h,
    vec4i(j * P.stride) - P.pad_w,
    yo,
    (vec4u(m0) + vec4u(0u, 1u, 2u, 3u) < vec4u(P.m)) & vec4<bool>(live),
  );
}

// One filter tap (th, tw) for four pixels: offsets of their input vectors (in units of `unit`
// elements per pixel) and whether the tap falls inside the image (padding reads zero).
struct Tap4 {
  off: vec4u,
  ok: vec4<bool>,
}

fn tap4(p: Pix4, th: u32, tw: u32, unit: u32) -> Tap4 {
  let ih = p.ih + i32(th);
  let iw = p.iw + i32(tw);
  let ok = p.live & (ih >= vec4i(0)) & (ih < vec4i(i32(P.in_h))) & (iw >= vec4i(0)) &
    (iw < vec4i(i32(P.in_w)));
  let off = ((p.nh + vec4u(ih)) * P.in_w + vec4u(iw)) * unit;
  return Tap4(select(vec4u(0u), off, ok), ok);
}

// Four pixels' input vec4 at channel block c: columns are pixels.
fn load_x(t: Tap4, c: u32) -> mat4x4f {
  let z = vec4f(0.0);
  return mat4x4f(
    select(z, x4[t.off.x + c], t.ok.x),
    select(z, x4[t.off.y + c], t.ok.y),
    select(z, x4[t.off.z + c], t.ok.z),
    select(z, x4[t.off.w + c], t.ok.w),
  );
}

// Four weight rows (o, o + s, o + 2s, o + 3s in vec4 units) of one channel block: columns are rows.
fn wmat(o: u32, s: u32) -> mat4x4f {
  return mat4x4f(w4[o], w4[o + s], w4[o + 2u * s], w4[o + 3u * s]);
}

fn epilogue4(v: vec4f, b: vec4f, o4: u32) -> vec4f {
  var r = v;
  if (HAS_BIAS) {
    r += b;
  }
  if (HAS_RESIDUAL) {
    r += res4[o4];
  }
  if (RELU) {
    r = max(r, vec4f(0.0));
  }
  return r;
}

// Stores one accumulator block (column q = pixel q, rows = channels 4*col4 .. 4*col4 + 3).
fn store4(a: mat4x4f, p: Pix4, col4: u32) {
  if (col4 >= P.cout / 4u) {
    return;
  }
  let o = p.yo / vec4u(4u) + vec4u(col4);
  var b = vec4f(0.0);
  if (HAS_BIAS) {
    b = bias4[col4];
  }
  if (p.live.x) {
    y4[o.x] = epilogue4(a[0], b, o.x);
  }
  if (p.live.y) {
    y4[o.y] = epilogue4(a[1], b, o.y);
  }
  if (p.live.z) {
    y4[o.z] = epilogue4(a[2], b, o.z);
  }
  if (p.live.w) {
    y4[o.w] = epilogue4(a[3], b, o.w);
  }
}

// Column blocks of a tile, clamped so loads stay in bounds (stores check the real index).
struct Cols8 {
  lo: vec4u,
  hi: vec4u,
}

fn cols8(tn: u32) -> Cols8 {
  let last = vec4u(P.cout / 4u - 1u);
  let c0 = tn * 8u;
  return Cols8(
    min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), last),
    min(vec4u(c0) + vec4u(4u, 5u, 6u, 7u), last),
  );
}

fn cols4(tn: u32) -> vec4u {
  return min(vec4u(tn * 4u) + vec4u(0u, 1u, 2u, 3u), vec4u(P.cout / 4u - 1u));
}

// 32 output channels: eight blocks.
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

// 16 output channels: four blocks.
struct Acc4 {
  b0: mat4x4f,
  b1: mat4x4f,
  b2: mat4x4f,
  b3: mat4x4f,
}

// Weights of four reduction rows for a 32-channel tile; row offset o, row stride s (vec4 units).
fn load_w8(o: u32, c: Cols8, s: u32) -> Acc8 {
  return Acc8(
    wmat(o + c.lo.x, s),
    wmat(o + c.lo.y, s),
    wmat(o + c.lo.z, s),
    wmat(o + c.lo.w, s),
    wmat(o + c.hi.x, s),
    wmat(o + c.hi.y, s),
    wmat(o + c.hi.z, s),
    wmat(o + c.hi.w, s),
  );
}

fn load_w4(o: u32, c: vec4u, s: u32) -> Acc4 {
  return Acc4(wmat(o + c.x, s), wmat(o + c.y, s), wmat(o + c.z, s), wmat(o + c.w, s));
}

fn fma8(a: Acc8, x: mat4x4f, w: Acc8) -> Acc8 {
  return Acc8(
    a.b0 + w.b0 * x,
    a.b1 + w.b1 * x,
    a.b2 + w.b2 * x,
    a.b3 + w.b3 * x,
    a.b4 + w.b4 * x,
    a.b5 + w.b5 * x,
    a.b6 + w.b6 * x,
    a.b7 + w.b7 * x,
  );
}

fn fma4(a: Acc4, x: mat4x4f, w: Acc4) -> Acc4 {
  return Acc4(a.b0 + w.b0 * x, a.b1 + w.b1 * x, a.b2 + w.b2 * x, a.b3 + w.b3 * x);
}

fn store8(a: Acc8, p: Pix4, tn: u32) {
  let c = tn * 8u;
  store4(a.b0, p, c);
  store4(a.b1, p, c + 1u);
  store4(a.b2, p, c + 2u);
  store4(a.b3, p, c + 3u);
  store4(a.b4, p, c + 4u);
  store4(a.b5, p, c + 5u);
  store4(a.b6, p, c + 6u);
  store4(a.b7, p, c + 7u);
}

fn store4x4(a: Acc4, p: Pix4, tn: u32) {
  let c = tn * 4u;
  store4(a.b0, p, c);
  store4(a.b1, p, c + 1u);
  store4(a.b2, p, c + 2u);
  store4(a.b3, p, c + 3u);
}

// Offset (vec4 units) of the first weight row of tap (th, tw).
fn tap_row4(th: u32, tw: u32) -> u32 {
  return P.w_base / 4u + (th * P.k_w + tw) * P.cin * (P.cout / 4u);
}

// ---------------------------------------------------------------------------------------------
// conv_v4: vec4 input channels and output channels.

// 32 pixels x 32 channels per invocation.
@compute @workgroup_size(WG)
fn conv_v4_r32x32(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = task(wid, nwg, lid);
  let m0 = t.tm * 32u;
  var cur = cursor(m0);
  let p0 = pix4(&cur, m0, t.live);
  let p1 = pix4(&cur, m0 + 4u, t.live);
  let p2 = pix4(&cur, m0 + 8u, t.live);
  let p3 = pix4(&cur, m0 + 12u, t.live);
  let p4 = pix4(&cur, m0 + 16u, t.live);
  let p5 = pix4(&cur, m0 + 20u, t.live);
  let p6 = pix4(&cur, m0 + 24u, t.live);
  let p7 = pix4(&cur, m0 + 28u, t.live);
  let cols = cols8(t.tn);
  let cin4 = P.cin / 4u;
  let s = P.cout / 4u;
  var a0 = Acc8();
  var a1 = Acc8();
  var a2 = Acc8();
  var a3 = Acc8();
  var a4 = Acc8();
  var a5 = Acc8();
  var a6 = Acc8();
  var a7 = Acc8();
  for (var th = 0u; th < P.k_h; th++) {
    for (var tw = 0u; tw < P.k_w; tw++) {
      let t0 = tap4(p0, th, tw, cin4);
      let t1 = tap4(p1, th, tw, cin4);
      let t2 = tap4(p2, th, tw, cin4);
      let t3 = tap4(p3, th, tw, cin4);
      let t4 = tap4(p4, th, tw, cin4);
      let t5 = tap4(p5, th, tw, cin4);
      let t6 = tap4(p6, th, tw, cin4);
      let t7 = tap4(p7, th, tw, cin4);
      var o = tap_row4(th, tw);
      for (var c = 0u; c < cin4; c++) {
        let w = load_w8(o, cols, s);
        a0 = fma8(a0, load_x(t0, c), w);
        a1 = fma8(a1, load_x(t1, c), w);
        a2 = fma8(a2, load_x(t2, c), w);
        a3 = fma8(a3, load_x(t3, c), w);
        a4 = fma8(a4, load_x(t4, c), w);
        a5 = fma8(a5, load_x(t5, c), w);
        a6 = fma8(a6, load_x(t6, c), w);
        a7 = fma8(a7, load_x(t7, c), w);
        o += 4u * s;
      }
    }
  }
  // One loop over the pixel groups: unrolled, the epilogue's loads made LLVM compile for 20 s.
  for (var g = 0u; g < 8u; g++) {
    var a = a0;
    var p = p0;
    if (g == 1u) {
      a = a1;
      p = p1;
    }
    if (g == 2u) {
      a = a2;
      p = p2;
    }
    if (g == 3u) {
      a = a3;
      p = p3;
    }
    if (g == 4u) {
      a = a4;
      p = p4;
    }
    if (g == 5u) {
      a = a5;
      p = p5;
    }
    if (g == 6u) {
      a = a6;
      p = p6;
    }
    if (g == 7u) {
      a = a7;
      p = p7;
    }
    store8(a, p, t.tn);
  }
}

// 16 pixels x 32 channels per invocation.
@compute @workgroup_size(WG)
fn conv_v4_r16x32(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = task(wid, nwg, lid);
  let m0 = t.tm * 16u;
  var cur = cursor(m0);
  let p0 = pix4(&cur, m0, t.live);
  let p1 = pix4(&cur, m0 + 4u, t.live);
  let p2 = pix4(&cur, m0 + 8u, t.live);
  let p3 = pix4(&cur, m0 + 12u, t.live);
  let cols = cols8(t.tn);
  let cin4 = P.cin / 4u;
  let s = P.cout / 4u;
  var a0 = Acc8();
  var a1 = Acc8();
  var a2 = Acc8();
  var a3 = Acc8();
  for (var th = 0u; th < P.k_h; th++) {
    for (var tw = 0u; tw < P.k_w; tw++) {
      let t0 = tap4(p0, th, tw, cin4);
      let t1 = tap4(p1, th, tw, cin4);
      let t2 = tap4(p2, th, tw, cin4);
      let t3 = tap4(p3, th, tw, cin4);
      var o = tap_row4(th, tw);
      for (var c = 0u; c < cin4; c++) {
        let w = load_w8(o, cols, s);
        a0 = fma8(a0, load_x(t0, c), w);
        a1 = fma8(a1, load_x(t1, c), w);
        a2 = fma8(a2, load_x(t2, c), w);
        a3 = fma8(a3, load_x(t3, c), w);
        o += 4u * s;
      }
    }
  }
  // One loop over the pixel groups: unrolled, the epilogue's loads made LLVM compile for 20 s.
  for (var g = 0u; g < 4u; g++) {
    var a = a0;
    var p = p0;
    if (g == 1u) {
      a = a1;
      p = p1;
    }
    if (g == 2u) {
      a = a2;
      p = p2;
    }
    if (g == 3u) {
      a = a3;
      p = p3;
    }
    store8(a, p, t.tn);
  }
}

// 32 pixels x 16 channels per invocation.
@compute @workgroup_size(WG)
fn conv_v4_r32x16(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = task(wid, nwg, lid);
  let m0 = t.tm * 32u;
  var cur = cursor(m0);
  let p0 = pix4(&cur, m0, t.live);
  let p1 = pix4(&cur, m0 + 4u, t.live);
  let p2 = pix4(&cur, m0 + 8u, t.live);
  let p3 = pix4(&cur, m0 + 12u, t.live);
  let p4 = pix4(&cur, m0 + 16u, t.live);
  let p5 = pix4(&cur, m0 + 20u, t.live);
  let p6 = pix4(&cur, m0 + 24u, t.live);
  let p7 = pix4(&cur, m0 + 28u, t.live);
  let cols = cols4(t.tn);
  let cin4 = P.cin / 4u;
  let s = P.cout / 4u;
  var a0 = Acc4();
  var a1 = Acc4();
  var a2 = Acc4();
  var a3 = Acc4();
  var a4 = Acc4();
  var a5 = Acc4();
  var a6 = Acc4();
  var a7 = Acc4();
  for (var th = 0u; th < P.k_h; th++) {
    for (var tw = 0u; tw < P.k_w; tw++) {
      let t0 = tap4(p0, th, tw, cin4);
      let t1 = tap4(p1, th, tw, cin4);
      let t2 = tap4(p2, th, tw, cin4);
      let t3 = tap4(p3, th, tw, cin4);
      let t4 = tap4(p4, th, tw, cin4);
      let t5 = tap4(p5, th, tw, cin4);
      let t6 = tap4(p6, th, tw, cin4);
      let t7 = tap4(p7, th, tw, cin4);
      var o = tap_row4(th, tw);
      for (var c = 0u; c < cin4; c++) {
        let w = load_w4(o, cols, s);
        a0 = fma4(a0, load_x(t0, c), w);
        a1 = fma4(a1, load_x(t1, c), w);
        a2 = fma4(a2, load_x(t2, c), w);
        a3 = fma4(a3, load_x(t3, c), w);
        a4 = fma4(a4, load_x(t4, c), w);
        a5 = fma4(a5, load_x(t5, c), w);
        a6 = fma4(a6, load_x(t6, c), w);
        a7 = fma4(a7, load_x(t7, c), w);
        o += 4u * s;
      }
    }
  }
  // One loop over the pixel groups: unrolled, the epilogue's loads made LLVM compile for 20 s.
  for (var g = 0u; g < 8u; g++) {
    var a = a0;
    var p = p0;
    if (g == 1u) {
      a = a1;
      p = p1;
    }
    if (g == 2u) {
      a = a2;
      p = p2;
    }
    if (g == 3u) {
      a = a3;
      p = p3;
    }
    if (g == 4u) {
      a = a4;
      p = p4;
    }
    if (g == 5u) {
      a = a5;
      p = p5;
    }
    if (g == 6u) {
      a = a6;
      p = p6;
    }
    if (g == 7u) {
      a = a7;
      p = p7;
    }
    store4x4(a, p, t.tn);
  }
}

// 16 pixels x 16 channels per invocation (small layers: more invocations).
@compute @workgroup_size(WG)
fn conv_v4_r16x16(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = task(wid, nwg, lid);
  let m0 = t.tm * 16u;
  var cur = cursor(m0);
  let p0 = pix4(&cur, m0, t.live);
  let p1 = pix4(&cur, m0 + 4u, t.live);
  let p2 = pix4(&cur, m0 + 8u, t.live);
  let p3 = pix4(&cur, m0 + 12u, t.live);
  let cols = cols4(t.tn);
  let cin4 = P.cin / 4u;
  let s = P.cout / 4u;
  var a0 = Acc4();
  var a1 = Acc4();
  var a2 = Acc4();
  var a3 = Acc4();
  for (var th = 0u; th < P.k_h; th++) {
    for (var tw = 0u; tw < P.k_w; tw++) {
      let t0 = tap4(p0, th, tw, cin4);
      let t1 = tap4(p1, th, tw, cin4);
      let t2 = tap4(p2, th, tw, cin4);
      let t3 = tap4(p3, th, tw, cin4);
      var o = tap_row4(th, tw);
      for (var c = 0u; c < cin4; c++) {
        let w = load_w4(o, cols, s);
        a0 = fma4(a0, load_x(t0, c), w);
        a1 = fma4(a1, load_x(t1, c), w);
        a2 = fma4(a2, load_x(t2, c), w);
        a3 = fma4(a3, load_x(t3, c), w);
        o += 4u * s;
      }
    }
  }
  // One loop over the pixel groups: unrolled, the epilogue's loads made LLVM compile for 20 s.
  for (var g = 0u; g < 4u; g++) {
    var a = a0;
    var p = p0;
    if (g == 1u) {
      a = a1;
      p = p1;
    }
    if (g == 2u) {
      a = a2;
      p = p2;
    }
    if (g == 3u) {
      a = a3;
      p = p3;
    }
    store4x4(a, p, t.tn);
  }
}

// ---------------------------------------------------------------------------------------------
// conv_xs: scalar input channels (any Cin), vec4 output channels. For a fixed filter row th the
// reduction rows (tw, ci) of one pixel are a contiguous run of its input row, x[n, ih, iw0 + tw,
// ci] = xs[row + iw0*Cin + (tw*Cin + ci)], so one offset per pixel and filter row suffices.

struct Row4 {
  base: vec4u, // element offset of x[n, ih, 0, 0]
  lin: vec4i, // iw0 * Cin: position of the window start inside the row (may be negative)
  ok: vec4<bool>, // the filter row lies inside the image
}

fn row4(p: Pix4, th: u32) -> Row4 {
  let ih = p.ih + i32(th);
  let ok = p.live & (ih >= vec4i(0)) & (ih < vec4i(i32(P.in_h)));
  let base = (p.nh + vec4u(ih)) * P.in_w * P.cin;
  return Row4(select(vec4u(0u), base, ok), p.iw * i32(P.cin), ok);
}

// Four pixels' input value at reduction row kl of the filter row (zero where padded).
fn load_xs(r: Row4, kl: u32) -> vec4f {
  let pos = r.lin + vec4i(i32(kl));
  let ok = r.ok & (pos >= vec4i(0)) & (pos < vec4i(i32(P.in_w * P.cin)));
  let off = select(vec4u(0u), r.base + vec4u(pos), ok);
  return select(vec4f(0.0), vec4f(xs[off.x], xs[off.y], xs[off.z], xs[off.w]), ok);
}

fn outer(u: vec4f, v: vec4f) -> mat4x4f {
  return mat4x4f(u * v.x, u * v.y, u * v.z, u * v.w);
}

// One weight row across a 32-channel tile.
struct Wr8 {
  b0: vec4f,
  b1: vec4f,
  b2: vec4f,
  b3: vec4f,
  b4: vec4f,
  b5: vec4f,
  b6: vec4f,
  b7: vec4f,
}

fn load_wr8(o: u32, c: Cols8) -> Wr8 {
  return Wr8(
    w4[o + c.lo.x],
    w4[o + c.lo.y],
    w4[o + c.lo.z],
    w4[o + c.lo.w],
    w4[o + c.hi.x],
    w4[o + c.hi.y],
    w4[o + c.hi.z],
    w4[o + c.hi.w],
  );
}

fn fmar8(a: Acc8, x: vec4f, w: Wr8) -> Acc8 {
  return Acc8(
    a.b0 + outer(w.b0, x),
    a.b1 + outer(w.b1, x),
    a.b2 + outer(w.b2, x),
    a.b3 + outer(w.b3, x),
    a.b4 + outer(w.b4, x),
    a.b5 + outer(w.b5, x),
    a.b6 + outer(w.b6, x),
    a.b7 + outer(w.b7, x),
  );
}

fn fmar4(a: Acc4, x: vec4f, o: u32, c: vec4u) -> Acc4 {
  return Acc4(
    a.b0 + outer(w4[o + c.x], x),
    a.b1 + outer(w4[o + c.y], x),
    a.b2 + outer(w4[o + c.z], x),
    a.b3 + outer(w4[o + c.w], x),
  );
}

// 32 pixels x 32 channels per invocation.
@compute @workgroup_size(WG)
fn conv_xs_r32x32(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = task(wid, nwg, lid);
  let m0 = t.tm * 32u;
  var cur = cursor(m0);
  let p0 = pix4(&cur, m0, t.live);
  let p1 = pix4(&cur, m0 + 4u, t.live);
  let p2 = pix4(&cur, m0 + 8u, t.live);
  let p3 = pix4(&cur, m0 + 12u, t.live);
  let p4 = pix4(&cur, m0 + 16u, t.live);
  let p5 = pix4(&cur, m0 + 20u, t.live);
  let p6 = pix4(&cur, m0 + 24u, t.live);
  let p7 = pix4(&cur, m0 + 28u, t.live);
  let cols = cols8(t.tn);
  let s = P.cout / 4u;
  let run = P.k_w * P.cin;
  var a0 = Acc8();
  var a1 = Acc8();
  var a2 = Acc8();
  var a3 = Acc8();
  var a4 = Acc8();
  var a5 = Acc8();
  var a6 = Acc8();
  var a7 = Acc8();
  for (var th = 0u; th < P.k_h; th++) {
    let r0 = row4(p0, th);
    let r1 = row4(p1, th);
    let r2 = row4(p2, th);
    let r3 = row4(p3, th);
    let r4 = row4(p4, th);
    let r5 = row4(p5, th);
    let r6 = row4(p6, th);
    let r7 = row4(p7, th);
    var o = P.w_base / 4u + th * run * s;
    for (var kl = 0u; kl < run; kl++) {
      let w = load_wr8(o, cols);
      a0 = fmar8(a0, load_xs(r0, kl), w);
      a1 = fmar8(a1, load_xs(r1, kl), w);
      a2 = fmar8(a2, load_xs(r2, kl), w);
      a3 = fmar8(a3, load_xs(r3, kl), w);
      a4 = fmar8(a4, load_xs(r4, kl), w);
      a5 = fmar8(a5, load_xs(r5, kl), w);
      a6 = fmar8(a6, load_xs(r6, kl), w);
      a7 = fmar8(a7, load_xs(r7, kl), w);
      o += s;
    }
  }
  // One loop over the pixel groups: unrolled, the epilogue's loads made LLVM compile for 20 s.
  for (var g = 0u; g < 8u; g++) {
    var a = a0;
    var p = p0;
    if (g == 1u) {
      a = a1;
      p = p1;
    }
    if (g == 2u) {
      a = a2;
      p = p2;
    }
    if (g == 3u) {
      a = a3;
      p = p3;
    }
    if (g == 4u) {
      a = a4;
      p = p4;
    }
    if (g == 5u) {
      a = a5;
      p = p5;
    }
    if (g == 6u) {
      a = a6;
      p = p6;
    }
    if (g == 7u) {
      a = a7;
      p = p7;
    }
    store8(a, p, t.tn);
  }
}

// 16 pixels x 16 channels per invocation.
@compute @workgroup_size(WG)
fn conv_xs_r16x16(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = task(wid, nwg, lid);
  let m0 = t.tm * 16u;
  var cur = cursor(m0);
  let p0 = pix4(&cur, m0, t.live);
  let p1 = pix4(&cur, m0 + 4u, t.live);
  let p2 = pix4(&cur, m0 + 8u, t.live);
  let p3 = pix4(&cur, m0 + 12u, t.live);
  let cols = cols4(t.tn);
  let s = P.cout / 4u;
  let run = P.k_w * P.cin;
  var a0 = Acc4();
  var a1 = Acc4();
  var a2 = Acc4();
  var a3 = Acc4();
  for (var th = 0u; th < P.k_h; th++) {
    let r0 = row4(p0, th);
    let r1 = row4(p1, th);
    let r2 = row4(p2, th);
    let r3 = row4(p3, th);
    var o = P.w_base / 4u + th * run * s;
    for (var kl = 0u; kl < run; kl++) {
      a0 = fmar4(a0, load_xs(r0, kl), o, cols);
      a1 = fmar4(a1, load_xs(r1, kl), o, cols);
      a2 = fmar4(a2, load_xs(r2, kl), o, cols);
      a3 = fmar4(a3, load_xs(r3, kl), o, cols);
      o += s;
    }
  }
  // One loop over the pixel groups: unrolled, the epilogue's loads made LLVM compile for 20 s.
  for (var g = 0u; g < 4u; g++) {
    var a = a0;
    var p = p0;
    if (g == 1u) {
      a = a1;
      p = p1;
    }
    if (g == 2u) {
      a = a2;
      p = p2;
    }
    if (g == 3u) {
      a = a3;
      p = p3;
    }
    store4x4(a, p, t.tn);
  }
}

// ---------------------------------------------------------------------------------------------
// conv_scalar: any channel counts. Four pixels x four output channels per invocation.

fn epilogue1(v: f32, co: u32, o: u32) -> f32 {
  var r = v;
  if (HAS_BIAS) {
    r += bias_s[co];
  }
  if (HAS_RESIDUAL) {
    r += res_s[o];
  }
  if (RELU) {
    r = max(r, 0.0);
  }
  return r;
}

// Stores pixel q's channels co0 .. co0 + 3 (those below Cout).
fn store1(v: vec4f, yo: u32, co0: u32) {
  for (var j = 0u; j < 4u; j++) {
    let co = co0 + j;
    if (co < P.cout) {
      ys[yo + co] = epilogue1(v[j], co, yo + co);
    }
  }
}

@compute @workgroup_size(WG)
fn conv_scalar(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = task(wid, nwg, lid);
  var cur = cursor(t.tm * 4u);
  let p = pix4(&cur, t.tm * 4u, t.live);
  let co0 = t.tn * 4u;
  let cm = min(vec4u(co0) + vec4u(0u, 1u, 2u, 3u), vec4u(P.cout - 1u));
  let cok = (vec4u(co0) + vec4u(0u, 1u, 2u, 3u)) < vec4u(P.cout);
  let run = P.k_w * P.cin;
  var acc = mat4x4f();
  for (var th = 0u; th < P.k_h; th++) {
    let r = row4(p, th);
    var o = P.w_base + th * run * P.cout;
    for (var kl = 0u; kl < run; kl++) {
      let wv = select(vec4f(0.0), vec4f(ws[o + cm.x], ws[o + cm.y], ws[o + cm.z], ws[o + cm.w]), cok);
      acc += outer(wv, load_xs(r, kl));
      o += P.cout;
    }
  }
  if (p.live.x) {
    store1(acc[0], p.yo.x, co0);
  }
  if (p.live.y) {
    store1(acc[1], p.yo.y, co0);
  }
  if (p.live.z) {
    store1(acc[2], p.yo.z, co0);
  }
  if (p.live.w) {
    store1(acc[3], p.yo.w, co0);
  }
}

// ---------------------------------------------------------------------------------------------
// conv_wg64: 64 pixels x 64 channels per workgroup of 256 invocations, 16 reduction rows at a
// time staged in workgroup memory, 4 x 4 outputs per invocation. Scalar loads, so any channel
// counts. The usual layout for discrete GPUs, where workgroup memory is fast.

const WT: u32 = 64u;
const WK: u32 = 16u;

var<workgroup> tile_x: array<f32, 1024>; // [WK][WT]: reduction row, pixel
var<workgroup> tile_w: array<f32, 1024>; // [WK][WT]: reduction row, channel

@compute @workgroup_size(256)
fn conv_wg64(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let g = wid.x + wid.y * nwg.x;
  let tn = g % P.tiles_n;
  let tm = min(g / P.tiles_n, P.tiles_m - 1u);
  let live = g / P.tiles_n < P.tiles_m;
  let ktotal = P.k_h * P.k_w * P.cin;

  // The pixel this invocation stages, decoded once.
  let lp = lid % WT;
  let lm = tm * WT + lp;
  let lmc = min(lm, P.m - 1u);
  let lj = lmc % P.out_w;
  let lt = lmc / P.out_w;
  let li = lt % P.out_h;
  let ln = lt / P.out_h;
  let ih0 = i32(li * P.stride) - P.pad_h;
  let iw0 = i32(lj * P.stride) - P.pad_w;
  let lco = tn * WT + lp;

  // The outputs this invocation computes.
  let ty = lid / 16u;
  let tx = lid % 16u;
  var acc = mat4x4f(); // column q: pixel ty*4 + q, rows: channels tx*4 ..

  for (var k0 = 0u; k0 < ktotal; k0 += WK) {
    for (var r = lid / WT; r < WK; r += 256u / WT) {
      let k = k0 + r;
      let tap = k / P.cin;
      let ci = k % P.cin;
      let ih = ih0 + i32(tap / P.k_w);
      let iw = iw0 + i32(tap % P.k_w);
      let ok = k < ktotal && ih >= 0 && iw >= 0 && ih < i32(P.in_h) && iw < i32(P.in_w);
      let xo = select(0u, ((ln * P.in_h + u32(ih)) * P.in_w + u32(iw)) * P.cin + ci, ok);
      tile_x[r * WT + lp] = select(0.0, xs[xo], ok);
      let wok = k < ktotal && lco < P.cout;
      tile_w[r * WT + lp] = select(0.0, ws[select(0u, P.w_base + k * P.cout + lco, wok)], wok);
    }
    workgroupBarrier();
    for (var r = 0u; r < WK; r++) {
      let xv = vec4f(
        tile_x[r * WT + ty * 4u],
        tile_x[r * WT + ty * 4u + 1u],
        tile_x[r * WT + ty * 4u + 2u],
        tile_x[r * WT + ty * 4u + 3u],
      );
      let wv = vec4f(
        tile_w[r * WT + tx * 4u],
        tile_w[r * WT + tx * 4u + 1u],
        tile_w[r * WT + tx * 4u + 2u],
        tile_w[r * WT + tx * 4u + 3u],
      );
      acc += outer(wv, xv);
    }
    workgroupBarrier();
  }
  var cur = cursor(tm * WT + ty * 4u);
  let p = pix4(&cur, tm * WT + ty * 4u, live);
  let co0 = tn * WT + tx * 4u;
  if (p.live.x) {
    store1(acc[0], p.yo.x, co0);
  }
  if (p.live.y) {
    store1(acc[1], p.yo.y, co0);
  }
  if (p.live.z) {
    store1(acc[2], p.yo.z, co0);
  }
  if (p.live.w) {
    store1(acc[3], p.yo.w, co0);
  }
}
