// Shared helpers of the packed 8-bit image kernels (image_*.wgsl, augment.wgsl), prepended by the
// kernel cache (src/gpu/kernel.ts) to every kernel whose spec names this prelude
// (IMAGE_PRELUDE in src/image/gpu/prelude.ts). A pixel is one u32: R | G << 8 | B << 16.

// Fixed-point fractional bits of Pillow's 8-bit resampling (Resample.c; PRECISION_BITS in
// src/image/resize.ts).
const PRECISION_BITS: u32 = 22u;

fn unpack(p: u32) -> vec3u {
  return vec3u(p & 255u, (p >> 8u) & 255u, (p >> 16u) & 255u);
}

fn pack(c: vec3u) -> u32 {
  return c.x | (c.y << 8u) | (c.z << 16u);
}

// Pillow's clip8 of a fixed-point sum: (v >> PRECISION_BITS) saturated to 0..255.
fn clip8(v: i32) -> u32 {
  if (v >= (1 << (PRECISION_BITS + 8u))) {
    return 255u;
  }
  if (v <= 0) {
    return 0u;
  }
  return u32(v >> PRECISION_BITS);
}
