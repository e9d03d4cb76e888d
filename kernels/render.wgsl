// The built-in synthetic world's renderer: sphere tracing of analytic signed distance fields,
// one invocation per pixel of a whole batch of scenes. The host (src/world/world_render.ts) turns
// each scene's latents into world-space quantities (position, inverse rotation, linear RGB
// colours, light position) so this file only intersects, shades and packs.
//
// Conventions: right-handed world, x right, y up, z towards the pinhole camera at (0, 0, cam_z),
// which looks down -z. Pixel (px, py) has its centre at (px + 0.5, py + 0.5), rows top to bottom.
// Output: one u32 per pixel, r | g << 8 | b << 16, scene-major then row-major.

struct RenderParams {
  width: u32,
  height: u32,
  count: u32,
  max_steps: u32,
  // tan(vertical fov / 2)
  tan_half: f32,
  cam_z: f32,
  // radius of the sphere that bounds every object class (rays that miss it see background)
  bound: f32,
  _pad: f32,
}

// Eight vec4 per scene:
//   0: position xyz, class id (as f32)
//   1, 2, 3: rows of the world-to-object rotation Rᵀ
//   4: object albedo (linear RGB)
//   5: spotlight position xyz
//   6: spotlight colour (linear RGB)
//   7: background colour (linear RGB)
const SCENE_VEC4 = 8u;

@group(0) @binding(0) var<uniform> p: RenderParams;
@group(0) @binding(1) var<storage, read> scenes: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> pixels: array<u32>;

const CLASS_CAPSULE = 0u;
const CLASS_CONE = 1u;
const CLASS_CUBE = 2u;
const CLASS_CYLINDER = 3u;
const CLASS_SPHERE = 4u;
const CLASS_TEAPOT = 5u;
const CLASS_TORUS = 6u;

fn sd_capsule_y(q: vec3f, half_len: f32, r: f32) -> f32 {
  let y = q.y - clamp(q.y, -half_len, half_len);
  return length(vec3f(q.x, y, q.z)) - r;
}

fn sd_segment(q: vec3f, a: vec3f, b: vec3f, r: f32) -> f32 {
  let pa = q - a;
  let ba = b - a;
  let h = clamp(dot(pa, ba) / dot(ba, ba), 0.0, 1.0);
  return length(pa - ba * h) - r;
}

fn sd_round_box(q: vec3f, b: vec3f, r: f32) -> f32 {
  let d = abs(q) - b;
  return length(max(d, vec3f(0.0))) + min(max(d.x, max(d.y, d.z)), 0.0) - r;
}

fn sd_cylinder_y(q: vec3f, r: f32, half_h: f32) -> f32 {
  let d = vec2f(length(q.xz) - r, abs(q.y) - half_h);
  return min(max(d.x, d.y), 0.0) + length(max(d, vec2f(0.0)));
}

// Exact capped cone along y: base radius r_base at y = -half_h, apex radius r_top at +half_h.
fn sd_capped_cone(q: vec3f, half_h: f32, r_base: f32, r_top: f32) -> f32 {
  let w = vec2f(length(q.xz), q.y);
  let k1 = vec2f(r_top, half_h);
  let k2 = vec2f(r_top - r_base, 2.0 * half_h);
  let ca = vec2f(w.x - min(w.x, select(r_top, r_base, w.y < 0.0)), abs(w.y) - half_h);
  let cb = w - k1 + k2 * clamp(dot(k1 - w, k2) / dot(k2, k2), 0.0, 1.0);
  let s = select(1.0, -1.0, cb.x < 0.0 && ca.y < 0.0);
  return s * sqrt(min(dot(ca, ca), dot(cb, cb)));
}

fn sd_torus_xz(q: vec3f, major: f32, minor: f32) -> f32 {
  return length(vec2f(length(q.xz) - major, q.y)) - minor;
}

fn sd_torus_xy(q: vec3f, major: f32, minor: f32) -> f32 {
  return length(vec2f(length(q.xy) - major, q.z)) - minor;
}

// Bound (not exact) distance to an ellipsoid with semi-axes r.
fn sd_ellipsoid(q: vec3f, r: vec3f) -> f32 {
  let k0 = length(q / r);
  let k1 = length(q / (r * r));
  return k0 * (k0 - 1.0) / max(k1, 1e-6);
}

// A squat body, a spout, a handle and a lid knob.
fn sd_teapot(q: vec3f) -> f32 {
  let body = sd_ellipsoid(q, vec3f(0.52, 0.4, 0.52));
  let spout = sd_segment(q, vec3f(0.38, -0.08, 0.0), vec3f(0.78, 0.26, 0.0), 0.08);
  let handle = sd_torus_xy(q - vec3f(-0.52, 0.02, 0.0), 0.2, 0.06);
  let knob = length(q - vec3f(0.0, 0.44, 0.0)) - 0.1;
  return min(min(body, spout), min(handle, knob));
}

fn sd_object(cls: u32, q: vec3f) -> f32 {
  switch cls {
    case 0u: { return sd_capsule_y(q, 0.42, 0.3); }
    case 1u: { return sd_capped_cone(q, 0.55, 0.55, 0.04); }
    case 2u: { return sd_round_box(q, vec3f(0.42, 0.42, 0.42), 0.06); }
    case 3u: { return sd_cylinder_y(q, 0.42, 0.55); }
    case 4u: { return length(q) - 0.62; }
    case 5u: { return sd_teapot(q); }
    default: { return sd_torus_xz(q, 0.52, 0.2); }
  }
}

struct Scene {
  pos: vec3f,
  cls: u32,
  rt: mat3x3f,
}

fn to_local(s: Scene, x: vec3f) -> vec3f {
  // rt holds the rows of Rᵀ as columns, so transpose(rt) * v = Rᵀ v.
  return (x - s.pos) * s.rt;
}

fn sd_world(s: Scene, x: vec3f) -> f32 {
  return sd_object(s.cls, to_local(s, x));
}

fn normal_at(s: Scene, x: vec3f) -> vec3f {
  // Tetrahedral central differences: four evaluations instead of six.
  let h = 1e-3;
  let k0 = vec3f(1.0, -1.0, -1.0);
  let k1 = vec3f(-1.0, -1.0, 1.0);
  let k2 = vec3f(-1.0, 1.0, -1.0);
  let k3 = vec3f(1.0, 1.0, 1.0);
  let g = k0 * sd_world(s, x + k0 * h) + k1 * sd_world(s, x + k1 * h) +
    k2 * sd_world(s, x + k2 * h) + k3 * sd_world(s, x + k3 * h);
  return normalize(g);
}

fn shade(s: Scene, base: u32, x: vec3f, cam: vec3f) -> vec3f {
  let n = normal_at(s, x);
  let albedo = scenes[base + 4u].xyz;
  let light_pos = scenes[base + 5u].xyz;
  let light_col = scenes[base + 6u].xyz;
  // Stripes fixed to the object make its rotation visible even on the sphere.
  let q = to_local(s, x);
  let stripe = 0.8 + 0.2 * smoothstep(-0.3, 0.3, sin(9.0 * q.y + 4.0 * q.x));
  let v = normalize(cam - x);
  let l = normalize(light_pos - x);
  // The spotlight aims at the world origin; its soft cone always contains the object.
  let spot_dir = normalize(-light_pos);
  let cone = smoothstep(0.6, 0.85, dot(-l, spot_dir));
  let diffuse = max(dot(n, l), 0.0) * cone;
  let hv = normalize(l + v);
  let specular = select(0.0, pow(max(dot(n, hv), 0.0), 40.0), diffuse > 0.0) * cone;
  let ambient = vec3f(0.1);
  return albedo * stripe * (ambient + 0.95 * diffuse * light_col) + 0.45 * specular * light_col;
}

fn to_byte(c: f32) -> u32 {
  // Display gamma 1/2.2, rounded to the nearest byte.
  let g = pow(clamp(c, 0.0, 1.0), 1.0 / 2.2);
  return u32(g * 255.0 + 0.5);
}

@compute @workgroup_size(64)
fn render(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let idx = (wid.x + wid.y * nwg.x) * 64u + lid;
  let per_image = p.width * p.height;
  if (idx >= per_image * p.count) {
    return;
  }
  let scene_index = idx / per_image;
  let pix = idx - scene_index * per_image;
  let py = pix / p.width;
  let px = pix - py * p.width;
  let base = scene_index * SCENE_VEC4;

  let h0 = scenes[base];
  var s: Scene;
  s.pos = h0.xyz;
  s.cls = u32(h0.w + 0.5);
  s.rt = mat3x3f(scenes[base + 1u].xyz, scenes[base + 2u].xyz, scenes[base + 3u].xyz);

  let aspect = f32(p.width) / f32(p.height);
  let u = (2.0 * (f32(px) + 0.5) / f32(p.width) - 1.0) * p.tan_half * aspect;
  let w = (1.0 - 2.0 * (f32(py) + 0.5) / f32(p.height)) * p.tan_half;
  let cam = vec3f(0.0, 0.0, p.cam_z);
  let dir = normalize(vec3f(u, w, -1.0));
  // Angular size of one pixel, for the edge coverage estimate below.
  let pixel_angle = 2.0 * p.tan_half / f32(p.height);

  let bg_scale = 0.82 + 0.18 * (1.0 - (f32(py) + 0.5) / f32(p.height));
  var colour = scenes[base + 7u].xyz * bg_scale;

  // Intersect the bounding sphere; only rays through it are marched.
  let oc = cam - s.pos;
  let b = dot(oc, dir);
  let c = dot(oc, oc) - p.bound * p.bound;
  let disc = b * b - c;
  if (disc > 0.0) {
    let root = sqrt(disc);
    var t = max(-b - root, 0.0);
    let t_end = -b + root;
    var hit = false;
    // Closest approach in pixels, and where it happened, for anti-aliased silhouettes.
    var min_ratio = 1e9;
    var t_min = t;
    for (var i = 0u; i < p.max_steps; i++) {
      let d = sd_world(s, cam + dir * t);
      let ratio = d / (t * pixel_angle);
      if (ratio < min_ratio) {
        min_ratio = ratio;
        t_min = t;
      }
      if (d < 5e-4 * t) {
        hit = true;
        break;
      }
      t += d;
      if (t > t_end) {
        break;
      }
    }
    if (hit) {
      colour = shade(s, base, cam + dir * t, cam);
    } else if (min_ratio < 1.0) {
      let coverage = 0.5 * (1.0 - max(min_ratio, 0.0));
      colour = mix(colour, shade(s, base, cam + dir * t_min, cam), coverage);
    }
  }
  pixels[idx] = to_byte(colour.x) | (to_byte(colour.y) << 8u) | (to_byte(colour.z) << 16u);
}
