// Geometric image transforms on batches of views of one 8-bit RGB image (src/transforms/
// geometry.ts and deform.ts). Pixels are packed one per u32 as r | g << 8 | b << 16. Every entry
// point walks a 1-D grid of `views * pixels` invocations that the host may split into 2-D
// (more than 65 535 workgroups): the linear index is (wid.x + wid.y * nwg.x) * 64 + lid.

fn unpack_rgb(p: u32) -> vec3f {
  return vec3f(unpack(p));
}

// Round half up and saturate to 0..255, then pack.
fn pack_rgb(v: vec3f) -> u32 {
  return pack(vec3u(clamp(floor(v + vec3f(0.5)), vec3f(0.0), vec3f(255.0))));
}

// OpenCV's BORDER_REFLECT_101 (mirror without repeating the edge: ... 2 1 | 0 1 2 ... n-1 | n-2),
// also for coordinates more than one period away.
fn reflect101(i: i32, n: i32) -> i32 {
  if (n == 1) {
    return 0;
  }
  let period = 2 * n - 2;
  var p = i % period;
  if (p < 0) {
    p = p + period;
  }
  if (p >= n) {
    p = period - p;
  }
  return p;
}

struct Dims {
  width: u32,
  height: u32,
  // views * width * height: the number of output pixels of the batch.
  total: u32,
  seed: u32,
}

// ---------------------------------------------------------------------------------------------
// Pillow's AFFINE transform with NEAREST resampling and black fill (rotate, torchvision affine),
// bit-exact. Pillow has two integer-reproducible paths, chosen per view by the host:
// - mode 0, 16.16 fixed point (affine_fixed, whenever the corners map within ±32768): the
//   source pixel is ((c + y·b + x·a) >> 16, (f + y·e + x·d) >> 16) with the coefficients already
//   rounded to 16.16 integers (i32 arithmetic wraps exactly like Pillow's incremental adds);
// - mode 1, pure scale (ImagingScaleAffine, b = d = 0): separable, so the host tabulates the
//   source column of every x and the source row of every y (−1 when outside).
// an_views per view: mode, a, b, c, d, e, f, table offset (8 × i32). an_tab: per mode-1 view,
// `height` source rows then `width` source columns.

@group(0) @binding(0) var<uniform> an_dims: Dims;
@group(0) @binding(1) var<storage, read> an_src: array<u32>;
@group(0) @binding(2) var<storage, read> an_views: array<i32>;
@group(0) @binding(3) var<storage, read> an_tab: array<i32>;
@group(0) @binding(4) var<storage, read_write> an_out: array<u32>;

@compute @workgroup_size(64)
fn affine_nearest(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= an_dims.total) {
    return;
  }
  let w = an_dims.width;
  let h = an_dims.height;
  let pixels = w * h;
  let v = i / pixels;
  let p = i - v * pixels;
  let y = p / w;
  let x = p - y * w;
  let hdr = v * 8u;
  var sx: i32;
  var sy: i32;
  if (an_views[hdr] == 0) {
    let xi = i32(x);
    let yi = i32(y);
    sx = (an_views[hdr + 3u] + yi * an_views[hdr + 2u] + xi * an_views[hdr + 1u]) >> 16u;
    sy = (an_views[hdr + 6u] + yi * an_views[hdr + 5u] + xi * an_views[hdr + 4u]) >> 16u;
  } else {
    let off = u32(an_views[hdr + 7u]);
    sy = an_tab[off + y];
    sx = an_tab[off + h + x];
  }
  var out = 0u;
  if (sx >= 0 && sx < i32(w) && sy >= 0 && sy < i32(h)) {
    out = an_src[u32(sy) * w + u32(sx)];
  }
  an_out[i] = out;
}

// ---------------------------------------------------------------------------------------------
// Bilinear sampling with reflect-101 borders, shared by both deform models.

fn sample_bilinear(src_base: u32, w: u32, h: u32, pos: vec2f) -> vec3f {
  let f = floor(pos);
  let t = pos - f;
  let x0 = i32(f.x);
  let y0 = i32(f.y);
  let xa = u32(reflect101(x0, i32(w)));
  let xb = u32(reflect101(x0 + 1, i32(w)));
  let ya = u32(reflect101(y0, i32(h)));
  let yb = u32(reflect101(y0 + 1, i32(h)));
  let p00 = unpack_rgb(gs_src[src_base + ya * w + xa]);
  let p01 = unpack_rgb(gs_src[src_base + ya * w + xb]);
  let p10 = unpack_rgb(gs_src[src_base + yb * w + xa]);
  let p11 = unpack_rgb(gs_src[src_base + yb * w + xb]);
  let top = p00 + (p01 - p00) * t.x;
  let bottom = p10 + (p11 - p10) * t.x;
  return top + (bottom - top) * t.y;
}

// ---------------------------------------------------------------------------------------------
// Default deform: a points x points grid of control displacements (pixels) spanning the image,
// interpolated with Catmull-Rom cubics (edge control points repeated), then a bilinear sample at
// (x + dx, y + dy) with reflect-101 borders.
// gs_info per view: vec4u(offset of its control data in gs_ctrl, points, 0, 0); control data:
// points * points (dx, dy) pairs, row-major (grid row = y).

@group(0) @binding(0) var<uniform> gs_dims: Dims;
@group(0) @binding(1) var<storage, read> gs_src: array<u32>;
@group(0) @binding(2) var<storage, read> gs_info: array<vec4u>;
@group(0) @binding(3) var<storage, read> gs_ctrl: array<vec2f>;
@group(0) @binding(4) var<storage, read_write> gs_out: array<u32>;

fn catmull_rom(t: f32) -> vec4f {
  let t2 = t * t;
  let t3 = t2 * t;
  return vec4f(
    0.5 * (-t3 + 2.0 * t2 - t),
    0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
    0.5 * (-3.0 * t3 + 4.0 * t2 + t),
    0.5 * (t3 - t2),
  );
}

fn grid_displacement(v: u32, x: u32, y: u32) -> vec2f {
  let info = gs_info[v];
  let n = i32(info.y);
  let w = gs_dims.width;
  let h = gs_dims.height;
  // Grid coordinates: control point j sits at pixel j * (size - 1) / (points - 1).
  var gx = 0.0;
  var gy = 0.0;
  if (w > 1u) {
    gx = f32(x) * f32(n - 1) / f32(w - 1u);
  }
  if (h > 1u) {
    gy = f32(y) * f32(n - 1) / f32(h - 1u);
  }
  let fx = floor(gx);
  let fy = floor(gy);
  let wx = catmull_rom(gx - fx);
  let wy = catmull_rom(gy - fy);
  var d = vec2f(0.0);
  for (var a = 0; a < 4; a++) {
    let row = clamp(i32(fy) - 1 + a, 0, n - 1);
    var acc = vec2f(0.0);
    for (var b = 0; b < 4; b++) {
      let c = clamp(i32(fx) - 1 + b, 0, n - 1);
      acc += wx[b] * gs_ctrl[info.x + u32(row * n + c)];
    }
    d += wy[a] * acc;
  }
  return d;
}

@compute @workgroup_size(64)
fn deform_grid(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= gs_dims.total) {
    return;
  }
  let w = gs_dims.width;
  let pixels = w * gs_dims.height;
  let v = i / pixels;
  let p = i - v * pixels;
  let y = p / w;
  let x = p - y * w;
  let d = grid_displacement(v, x, y);
  gs_out[i] = pack_rgb(sample_bilinear(0u, w, gs_dims.height, vec2f(f32(x), f32(y)) + d));
}

// Shares gs_dims (0), gs_info (2) and gs_ctrl (3) with deform_grid; the field goes to binding 1.
@group(0) @binding(1) var<storage, read_write> gf_out: array<vec2f>;

// The default model's displacement field itself (for tests and diagnostics).
@compute @workgroup_size(64)
fn deform_grid_field(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= gs_dims.total) {
    return;
  }
  let w = gs_dims.width;
  let pixels = w * gs_dims.height;
  let v = i / pixels;
  let p = i - v * pixels;
  let y = p / w;
  gf_out[i] = grid_displacement(v, p - y * w, y);
}

// ---------------------------------------------------------------------------------------------
// Faithful deform (albumentations ElasticTransform, approximate=True, alpha=1): a random affine
// warp, then a remap by a Gaussian-blurred uniform noise field, both bilinear, reflect-101.
//
// Pass 1 (noise_rows): per view and pixel, two uniform values in [-1, 1) from a counter-based
// hash of (seed, view, channel, pixel), blurred along x with the view's 17-tap kernel.
// Pass 2 (deform_faithful): blur along y, then for each of the 4 bilinear neighbours of
// (x + dx, y + dy) the warped image's value (a bilinear sample of the source at M·q, rounded to
// uint8 as OpenCV's warpAffine stores it), then the bilinear blend of those 4.
// fa_kern per view: 17 weights, M (inverse affine, 6 values), the view's index: 24 floats.

const TAPS: i32 = 17;
const KERNEL_STRIDE: u32 = 24u;

fn hash_u32(x: u32) -> u32 {
  // lowbias32 (Chris Wellons): a well-mixed 32-bit integer hash.
  var h = x;
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h;
}

// Uniform in [-1, 1): 24 random bits, as U[0, 1) * 2 - 1.
fn noise(seed: u32, v: u32, channel: u32, pixel: u32) -> f32 {
  let key = hash_u32(seed ^ hash_u32(v * 2u + channel));
  let bits = hash_u32(key ^ hash_u32(pixel + 0x9e3779b9u)) >> 8u;
  return f32(bits) * (2.0 / 16777216.0) - 1.0;
}

@group(0) @binding(0) var<uniform> nr_dims: Dims;
@group(0) @binding(1) var<storage, read> nr_kern: array<f32>;
@group(0) @binding(2) var<storage, read_write> nr_out: array<vec2f>;

@compute @workgroup_size(64)
fn noise_rows(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= nr_dims.total) {
    return;
  }
  let w = nr_dims.width;
  let pixels = w * nr_dims.height;
  let v = i / pixels;
  let p = i - v * pixels;
  let y = p / w;
  let x = i32(p - y * w);
  // The view's index in the whole call (not in this batch), so batching does not change it.
  let key = u32(nr_kern[v * KERNEL_STRIDE + 23u]);
  var acc = vec2f(0.0);
  for (var k = 0; k < TAPS; k++) {
    let sx = u32(reflect101(x + k - TAPS / 2, i32(w)));
    let q = y * w + sx;
    let g = nr_kern[v * KERNEL_STRIDE + u32(k)];
    acc += g * vec2f(noise(nr_dims.seed, key, 0u, q), noise(nr_dims.seed, key, 1u, q));
  }
  nr_out[i] = acc;
}

@group(0) @binding(0) var<uniform> fa_dims: Dims;
@group(0) @binding(1) var<storage, read> fa_src: array<u32>;
@group(0) @binding(2) var<storage, read> fa_kern: array<f32>;
@group(0) @binding(3) var<storage, read> fa_rows: array<vec2f>;
@group(0) @binding(4) var<storage, read_write> fa_out: array<u32>;

fn faithful_field(v: u32, x: u32, y: u32) -> vec2f {
  let w = fa_dims.width;
  let h = fa_dims.height;
  let base = v * w * h;
  var d = vec2f(0.0);
  for (var k = 0; k < TAPS; k++) {
    let sy = u32(reflect101(i32(y) + k - TAPS / 2, i32(h)));
    d += fa_kern[v * KERNEL_STRIDE + u32(k)] * fa_rows[base + sy * w + x];
  }
  return d;
}

fn src_bilinear(w: u32, h: u32, pos: vec2f) -> vec3f {
  let f = floor(pos);
  let t = pos - f;
  let x0 = i32(f.x);
  let y0 = i32(f.y);
  let xa = u32(reflect101(x0, i32(w)));
  let xb = u32(reflect101(x0 + 1, i32(w)));
  let ya = u32(reflect101(y0, i32(h)));
  let yb = u32(reflect101(y0 + 1, i32(h)));
  let p00 = unpack_rgb(fa_src[ya * w + xa]);
  let p01 = unpack_rgb(fa_src[ya * w + xb]);
  let p10 = unpack_rgb(fa_src[yb * w + xa]);
  let p11 = unpack_rgb(fa_src[yb * w + xb]);
  let top = p00 + (p01 - p00) * t.x;
  let bottom = p10 + (p11 - p10) * t.x;
  return top + (bottom - top) * t.y;
}

// The affine-warped image at integer pixel q (reflect-101 outside), rounded to uint8.
fn warped(v: u32, qx: i32, qy: i32) -> vec3f {
  let w = fa_dims.width;
  let h = fa_dims.height;
  let x = f32(reflect101(qx, i32(w)));
  let y = f32(reflect101(qy, i32(h)));
  let m = v * KERNEL_STRIDE + u32(TAPS);
  let sx = fa_kern[m] * x + fa_kern[m + 1u] * y + fa_kern[m + 2u];
  let sy = fa_kern[m + 3u] * x + fa_kern[m + 4u] * y + fa_kern[m + 5u];
  return clamp(floor(src_bilinear(w, h, vec2f(sx, sy)) + vec3f(0.5)), vec3f(0.0), vec3f(255.0));
}

@compute @workgroup_size(64)
fn deform_faithful(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= fa_dims.total) {
    return;
  }
  let w = fa_dims.width;
  let pixels = w * fa_dims.height;
  let v = i / pixels;
  let p = i - v * pixels;
  let y = p / w;
  let x = p - y * w;
  let pos = vec2f(f32(x), f32(y)) + faithful_field(v, x, y);
  let f = floor(pos);
  let t = pos - f;
  let x0 = i32(f.x);
  let y0 = i32(f.y);
  let top = mix(warped(v, x0, y0), warped(v, x0 + 1, y0), t.x);
  let bottom = mix(warped(v, x0, y0 + 1), warped(v, x0 + 1, y0 + 1), t.x);
  fa_out[i] = pack_rgb(mix(top, bottom, t.y));
}

@group(0) @binding(0) var<uniform> ff_dims: Dims;
@group(0) @binding(1) var<storage, read> ff_kern: array<f32>;
@group(0) @binding(2) var<storage, read> ff_rows: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> ff_out: array<vec2f>;

// The faithful model's elastic displacement field itself (for tests and diagnostics).
@compute @workgroup_size(64)
fn faithful_field_only(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= ff_dims.total) {
    return;
  }
  let w = ff_dims.width;
  let h = ff_dims.height;
  let pixels = w * h;
  let v = i / pixels;
  let p = i - v * pixels;
  let y = p / w;
  let x = p - y * w;
  var d = vec2f(0.0);
  for (var k = 0; k < TAPS; k++) {
    let sy = u32(reflect101(i32(y) + k - TAPS / 2, i32(h)));
    d += ff_kern[v * KERNEL_STRIDE + u32(k)] * ff_rows[v * pixels + sy * w + x];
  }
  ff_out[i] = d;
}
