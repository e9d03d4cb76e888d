// The MoCo v2 blur on packed 8-bit RGB images (one u32 per pixel: R | G << 8 | B << 16):
// box_blur is one pass of Pillow's extended box blur (BoxBlur.c) along x or y. The policies'
// resize lives in image_resize.wgsl, their normalisation in image_normalize.wgsl. The grid is
// 2-D: x strides over a view's pixels, y is the view. pack / unpack come from prelude_image.wgsl.

const WG: u32 = 256u;

struct BlurParams {
  n_views: u32,
  // 0: blur along x, 1: along y.
  axis: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> bb: BlurParams;
// Per view, 2 × vec4u: (offset, width, height, enabled), (radius, ww, fw, 0).
@group(0) @binding(1) var<storage, read> bb_views: array<vec4u>;
@group(0) @binding(2) var<storage, read> bb_src: array<u32>;
@group(0) @binding(3) var<storage, read_write> bb_dst: array<u32>;

// One extended-box pass along x (bb.axis = 0) or y (bb.axis = 1): 2r + 1 clamped taps at weight ww
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
    if (bb.axis == 1u) {
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
