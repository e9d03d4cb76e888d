// Appearance transforms on batches of 8-bit RGB images with Pillow / torchvision semantics
// (docs/synthetic.md#view-order): the ImageEnhance blends (brightness, contrast, color, sharpness), grayscale,
// torchvision's PIL adjust_hue through Pillow's 8-bit HSV, and torchvision's gaussian_blur.
// color_chain runs up to five of the per-pixel ops per view in one pass (ColorJitter's four in
// their random order, then RandomGrayscale).
//
// Images are packed one u32 per pixel: R | G << 8 | B << 16, rows top to bottom, views back to
// back. Every view table entry is vec4u(srcOffset, dstOffset, width, height), offsets in pixels,
// so many outputs may read one source. Grids are 2-D: x strides over a view's pixels, y is the
// view.

const WG: u32 = 256u;

// Pillow's ITU-R 601-2 luma: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
fn luma(c: vec3u) -> u32 {
  return (19595u * c.x + 38470u * c.y + 7471u * c.z + 32768u) >> 16u;
}

// Pillow's ImagingBlend per byte: d + a·(x − d) in float; 0 ≤ a ≤ 1 truncates, otherwise the
// float is clamped to 0..255 first.
fn blend1(d: u32, x: u32, a: f32) -> u32 {
  let t = f32(d) + a * f32(i32(x) - i32(d));
  if (a >= 0.0 && a <= 1.0) {
    return u32(t);
  }
  if (t <= 0.0) {
    return 0u;
  }
  if (t >= 255.0) {
    return 255u;
  }
  return u32(t);
}

fn blend(d: vec3u, x: vec3u, a: f32) -> vec3u {
  return vec3u(blend1(d.x, x.x, a), blend1(d.y, x.y, a), blend1(d.z, x.z, a));
}

struct ColorParams {
  n_views: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> cp: ColorParams;
// Hue bytes (hsv.ts hueTable, 4 per word) followed by the saturation bytes (saturationTable).
@group(0) @binding(1) var<storage, read> c_hsv: array<u32>;
// fs[s] = f32(s / 255), f[h] = f32(h·6/255 − i), i[h] = floor(h·6/255): Pillow's hsv2rgb floats.
@group(0) @binding(2) var<storage, read> c_hsv_f: array<f32>;
@group(0) @binding(3) var<storage, read> c_views: array<vec4u>;
// Per view, 4 × vec4u: op codes of steps 0..3; their factors as f32 bits; (code of step 4, its
// factor bits, hue shift byte, index of the contrast step or 5); (luma slot, 0, 0, 0).
@group(0) @binding(4) var<storage, read> c_ops: array<vec4u>;
@group(0) @binding(5) var<storage, read> c_src: array<u32>;
@group(0) @binding(6) var<storage, read> c_luma: array<u32>;
@group(0) @binding(7) var<storage, read_write> c_dst: array<u32>;

const HUE_BYTES: u32 = 393216u;

fn table_byte(i: u32) -> u32 {
  return (c_hsv[i >> 2u] >> ((i & 3u) * 8u)) & 255u;
}

// Pillow's rgb2hsv hue, looked up by (max channel, min channel, max − min, max − other).
fn pillow_hue(c: vec3u) -> u32 {
  let maxc = max(c.x, max(c.y, c.z));
  let minc = min(c.x, min(c.y, c.z));
  if (maxc == minc) {
    return 0u;
  }
  let cr = maxc - minc;
  var kase = 0u;
  var a = 0u;
  var b = 0u;
  if (c.x == maxc) {
    a = maxc - c.y;
    b = maxc - c.z;
  } else if (c.y == maxc) {
    kase = 1u;
    a = maxc - c.x;
    b = maxc - c.z;
  } else {
    kase = 2u;
    a = maxc - c.x;
    b = maxc - c.y;
  }
  var m = 0u;
  var d = b;
  if (a != cr) {
    m = 1u;
    d = a;
  }
  return table_byte(((kase * 2u + m) * 256u + cr) * 256u + d);
}

fn round_away(x: f32) -> u32 {
  let fl = floor(x);
  let r = select(fl, fl + 1.0, x - fl >= 0.5);
  return u32(clamp(r, 0.0, 255.0));
}

// Pillow's hsv2rgb with its float tables; the products run in f32 (C does some in double), so a
// result can differ by one level when it lies within float rounding of a half.
fn pillow_hsv_to_rgb(h: u32, s: u32, v: u32) -> vec3u {
  if (s == 0u) {
    return vec3u(v, v, v);
  }
  let fs = c_hsv_f[s];
  let f = c_hsv_f[256u + h];
  let i = u32(c_hsv_f[512u + h]) % 6u;
  let vf = f32(v);
  let p = round_away(vf * (1.0 - fs));
  let q = round_away(vf * (1.0 - fs * f));
  let t = round_away(vf * (1.0 - fs * (1.0 - f)));
  switch (i) {
    case 0u: {
      return vec3u(v, t, p);
    }
    case 1u: {
      return vec3u(q, v, p);
    }
    case 2u: {
      return vec3u(p, v, t);
    }
    case 3u: {
      return vec3u(p, q, v);
    }
    case 4u: {
      return vec3u(t, p, v);
    }
    default: {
      return vec3u(v, p, q);
    }
  }
}

fn px(base: u32, w: u32, x: u32, y: u32) -> vec3f {
  return vec3f(unpack(c_src[base + y * w + x]));
}

// Pillow's SMOOTH 3x3 filter ([1,1,1; 1,5,1; 1,1,1] / 13) on one interior pixel, summed in the
// order of Filter.c (row below, row, row above; +0.5 then truncation); borders are copied.
fn smooth_degenerate(base: u32, w: u32, h: u32, x: u32, y: u32) -> vec3u {
  let centre = unpack(c_src[base + y * w + x]);
  if (x == 0u || y == 0u || x + 1u >= w || y + 1u >= h) {
    return centre;
  }
  let k1 = 1.0 / 13.0;
  let k5 = 5.0 / 13.0;
  var ss = vec3f(0.5);
  ss += px(base, w, x - 1u, y + 1u) * k1 + px(base, w, x, y + 1u) * k1 + px(base, w, x + 1u, y + 1u) * k1;
  ss += px(base, w, x - 1u, y) * k1 + px(base, w, x, y) * k5 + px(base, w, x + 1u, y) * k1;
  ss += px(base, w, x - 1u, y - 1u) * k1 + px(base, w, x, y - 1u) * k1 + px(base, w, x + 1u, y - 1u) * k1;
  return vec3u(clamp(ss, vec3f(0.0), vec3f(255.0)));
}

// A per-pixel op. Codes: 0 copy, 1 brightness, 2 contrast (degenerate grey `mean`), 3 color
// (saturation), 5 hue (shift byte), 6 grayscale. Sharpness (4) needs neighbours: color_chain
// applies it itself, at step 0 only.
fn point_op(c: vec3u, code: u32, a: f32, shift: u32, mean: u32) -> vec3u {
  switch (code) {
    case 1u: {
      return blend(vec3u(0u), c, a);
    }
    case 2u: {
      return blend(vec3u(mean), c, a);
    }
    case 3u: {
      return blend(vec3u(luma(c)), c, a);
    }
    case 5u: {
      let maxc = max(c.x, max(c.y, c.z));
      let minc = min(c.x, min(c.y, c.z));
      let hue = (pillow_hue(c) + shift) & 255u;
      var sat = 0u;
      if (maxc != minc) {
        sat = table_byte(HUE_BYTES + (maxc - minc) * 256u + maxc);
      }
      return pillow_hsv_to_rgb(hue, sat, maxc);
    }
    case 6u: {
      return vec3u(luma(c));
    }
    default: {
      return c;
    }
  }
}

fn step_code(v: u32, s: u32) -> u32 {
  if (s < 4u) {
    return c_ops[4u * v][s];
  }
  return c_ops[4u * v + 2u].x;
}

fn step_factor(v: u32, s: u32) -> f32 {
  if (s < 4u) {
    return bitcast<f32>(c_ops[4u * v + 1u][s]);
  }
  return bitcast<f32>(c_ops[4u * v + 2u].y);
}

// Up to five appearance ops per view, applied in order to every pixel in one pass (the ops are
// per-pixel; the one contrast step's mean comes from luma_chain, run before).
@compute @workgroup_size(256)
fn color_chain(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.y;
  if (v >= cp.n_views) {
    return;
  }
  let view = c_views[v];
  let extra = c_ops[4u * v + 2u];
  let w = view.z;
  let h = view.w;
  let n = w * h;
  var mean = 0u;
  if (extra.w < 5u && n > 0u) {
    // int(sum / n + 0.5) without overflow: quotient plus a rounded remainder.
    let s = c_luma[c_ops[4u * v + 3u].x];
    mean = s / n + select(0u, 1u, 2u * (s % n) >= n);
  }
  // The chain, hoisted out of the pixel loop; trailing copies are skipped.
  var codes: array<u32, 5>;
  var factors: array<f32, 5>;
  var steps = 0u;
  for (var s = 0u; s < 5u; s++) {
    codes[s] = step_code(v, s);
    factors[s] = step_factor(v, s);
    if (codes[s] != 0u) {
      steps = s + 1u;
    }
  }
  for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
    var c = unpack(c_src[view.x + i]);
    for (var s = 0u; s < steps; s++) {
      if (codes[s] == 4u) {
        c = blend(smooth_degenerate(view.x, w, h, i % w, i / w), c, factors[s]);
      } else {
        c = point_op(c, codes[s], factors[s], extra.z, mean);
      }
    }
    c_dst[view.y + i] = pack(c);
  }
}

@group(0) @binding(6) var<storage, read_write> l_sum: array<atomic<u32>>;

var<workgroup> l_part: array<u32, 256>;

// Σ luma of each view's image as it is right before its contrast step (the ops before it
// replayed per pixel): the contrast degenerate's mean. Slots must be zeroed first.
@compute @workgroup_size(256)
fn luma_chain(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.y;
  var acc = 0u;
  var slot = 0u;
  var live = false;
  if (v < cp.n_views) {
    let view = c_views[v];
    let extra = c_ops[4u * v + 2u];
    slot = c_ops[4u * v + 3u].x;
    live = extra.w < 5u;
    let n = select(0u, view.z * view.w, live);
    var codes: array<u32, 5>;
    var factors: array<f32, 5>;
    for (var s = 0u; s < 5u; s++) {
      codes[s] = step_code(v, s);
      factors[s] = step_factor(v, s);
    }
    for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
      var c = unpack(c_src[view.x + i]);
      for (var s = 0u; s < extra.w; s++) {
        if (codes[s] == 4u) {
          c = blend(smooth_degenerate(view.x, view.z, view.w, i % view.z, i / view.z), c, factors[s]);
        } else {
          c = point_op(c, codes[s], factors[s], extra.z, 0u);
        }
      }
      acc += luma(c);
    }
  }
  l_part[lid] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) {
      l_part[lid] += l_part[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u && live && l_part[0] != 0u) {
    atomicAdd(&l_sum[slot], l_part[0]);
  }
}

struct GaussParams {
  n_views: u32,
  ksize: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> gp: GaussParams;
@group(0) @binding(1) var<storage, read> g_views: array<vec4u>;
// ksize float32 taps per view (torchvision's normalised 1-D Gaussian).
@group(0) @binding(2) var<storage, read> g_w: array<f32>;
@group(0) @binding(3) var<storage, read> g_src: array<u32>;
@group(0) @binding(4) var<storage, read_write> g_tmp: array<vec4f>;

// Reflect padding (edge not repeated); valid while the pad is smaller than the size.
fn reflect(i: i32, n: i32) -> u32 {
  var j = i;
  if (j < 0) {
    j = -j;
  }
  if (j >= n) {
    j = 2 * n - 2 - j;
  }
  return u32(j);
}

// Horizontal pass of torchvision's gaussian_blur: uint8 → float, kept unrounded in g_tmp (at the
// view's destination offset).
@compute @workgroup_size(256)
fn gauss_h(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.y;
  if (v >= gp.n_views) {
    return;
  }
  let view = g_views[v];
  let w = view.z;
  let n = w * view.w;
  let half = i32(gp.ksize / 2u);
  for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
    let x = i32(i % w);
    let row = view.x + (i / w) * w;
    var acc = vec3f(0.0);
    for (var t = 0u; t < gp.ksize; t++) {
      let sx = reflect(x + i32(t) - half, i32(w));
      acc += g_w[v * gp.ksize + t] * vec3f(unpack(g_src[row + sx]));
    }
    g_tmp[view.y + i] = vec4f(acc, 0.0);
  }
}

@group(0) @binding(0) var<uniform> gvp: GaussParams;
@group(0) @binding(1) var<storage, read> gv_views: array<vec4u>;
@group(0) @binding(2) var<storage, read> gv_w: array<f32>;
@group(0) @binding(3) var<storage, read> gv_tmp: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> gv_dst: array<u32>;

// Vertical pass, then torch.round (half to even) and the cast back to uint8.
@compute @workgroup_size(256)
fn gauss_v(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let v = wid.y;
  if (v >= gvp.n_views) {
    return;
  }
  let view = gv_views[v];
  let w = view.z;
  let h = view.w;
  let n = w * h;
  let half = i32(gvp.ksize / 2u);
  for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
    let x = i % w;
    let y = i32(i / w);
    var acc = vec3f(0.0);
    for (var t = 0u; t < gvp.ksize; t++) {
      let sy = reflect(y + i32(t) - half, i32(h));
      acc += gv_w[v * gvp.ksize + t] * gv_tmp[view.y + sy * w + x].xyz;
    }
    gv_dst[view.y + i] = pack(vec3u(clamp(round(acc), vec3f(0.0), vec3f(255.0))));
  }
}
