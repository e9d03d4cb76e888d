// ToTensor + Normalize of packed 8-bit views (src/image/gpu/normalize.ts): each byte goes through
// a 768-entry float32 table (the CPU's normalizationTable, so the values are identical) into NHWC
// float32. The grid is 2-D: x strides over a view's pixels, y is the view.

const WG: u32 = 256u;

struct NormalizeParams {
  n_views: u32,
  // View side (views are size × size).
  size: u32,
  // First view of the table to normalise.
  first: u32,
  // Element of the bound output range that view `first` starts at.
  out_start: u32,
}

@group(0) @binding(0) var<uniform> nm: NormalizeParams;
// Per view: (srcOffset, 0, 0, 0); views [nm.first, nm.first + n_views) of the batch.
@group(0) @binding(1) var<storage, read> nm_views: array<vec4u>;
// lut[c · 256 + v]: the float32 ToTensor + Normalize value of byte v in channel c.
@group(0) @binding(2) var<storage, read> nm_lut: array<f32>;
@group(0) @binding(3) var<storage, read> nm_src: array<u32>;
@group(0) @binding(4) var<storage, read_write> nm_out: array<f32>;

// size × size packed views → NHWC float32 [n_views, size, size, 3].
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
  let src = nm_views[nm.first + v].x;
  let n = nm.size * nm.size;
  for (var i = wid.x * WG + lid; i < n; i += nwg.x * WG) {
    let c = unpack(nm_src[src + i]);
    let o = nm.out_start + (v * n + i) * 3u;
    nm_out[o] = nm_lut[c.x];
    nm_out[o + 1u] = nm_lut[256u + c.y];
    nm_out[o + 2u] = nm_lut[512u + c.z];
  }
}
