// Writing a [rows, cols] matrix into columns [offset, offset + cols) of a [rows, total] matrix
// (feature concatenation along the last axis). 1-D grid over rows·cols, possibly split 2-D.

struct ConcatParams {
  rows: u32,
  cols: u32,
  total: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> p: ConcatParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn concat_columns(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i < p.rows * p.cols) {
    let r = i / p.cols;
    let c = i - r * p.cols;
    dst[r * p.total + p.offset + c] = src[i];
  }
}
