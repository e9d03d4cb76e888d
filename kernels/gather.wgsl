// Row gather over a batch: out[i, :] = x[index[i], :] for rows of `row` elements. Used by the
// single-device shuffle-BN emulation to permute the key batch before the key encoder and to undo
// the permutation afterwards. The host may split the 1-D grid into 2-D (more than 65 535
// workgroups): the linear workgroup index is wid.x + wid.y * nwg.x, and threads at or past
// rows * row / 4 (vec4) or rows * row (scalar) do nothing.

struct GatherParams {
  // Rows of the output (= entries of index).
  rows: u32,
  // Elements per row (vec4s per row in the vec4 entry point).
  row: u32,
  // Rows of the input: an index at or past it writes zeros instead of reading out of bounds.
  src_rows: u32,
}

@group(0) @binding(0) var<uniform> p: GatherParams;
@group(0) @binding(1) var<storage, read> gx: array<f32>;
@group(0) @binding(2) var<storage, read> gindex: array<u32>;
@group(0) @binding(3) var<storage, read_write> gout: array<f32>;

@compute @workgroup_size(64)
fn gather_rows(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (t >= p.rows * p.row) {
    return;
  }
  let r = t / p.row;
  let c = t - r * p.row;
  let s = gindex[r];
  if (s >= p.src_rows) {
    gout[t] = 0.0;
    return;
  }
  gout[t] = gx[s * p.row + c];
}

@group(0) @binding(0) var<uniform> p4: GatherParams;
@group(0) @binding(1) var<storage, read> gx4: array<vec4f>;
@group(0) @binding(2) var<storage, read> gindex4: array<u32>;
@group(0) @binding(3) var<storage, read_write> gout4: array<vec4f>;

@compute @workgroup_size(64)
fn gather_rows_vec4(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (t >= p4.rows * p4.row) {
    return;
  }
  let r = t / p4.row;
  let c = t - r * p4.row;
  let s = gindex4[r];
  if (s >= p4.src_rows) {
    gout4[t] = vec4f(0.0);
    return;
  }
  gout4[t] = gx4[s * p4.row + c];
}
