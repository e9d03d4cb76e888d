// GEMM: C[b] = alpha · op(A[b]) · op(B[b]) (+ bias broadcast over rows), f32.
//
// op(A) is [M, K] (stored [M, K], or [K, M] when TRANS_A); op(B) is [K, N] (stored [K, N], or
// [N, K] when TRANS_B); C is [M, N] row-major. Batch b reaches A, B and C through element
// strides in the params (a stride of 0 broadcasts a 2-D operand over the batch).
//
// Why the kernels look the way they do (measured on Mesa's llvmpipe; tests/bench/NOTES.md):
// llvmpipe runs 8 invocations per SIMD register and turns every storage-buffer load into a
// per-invocation scalar loop with a bounds check per component, so loads, not FMAs, bound a GEMM
// there. Each invocation therefore keeps a 16×16 (or 32×16) block of C in registers, one vec4 per
// row and 4 columns, and reads A and B as vec4 where the layout allows. Per 4 k: X_j = mat4x4
// whose columns are 4 k-rows of op(B) at columns 4j .. 4j + 3, y = (A(r, k), …, A(r, k + 3)),
// and row r's accumulator for columns 4j .. 4j + 3 gains X_j · y. Transposed operands only change
// how X and y are loaded (a transpose() of a register block costs nothing: SIMD lanes are
// invocations, so the components of a vec4 are separate registers).
//
// Entry points:
//   matmul_reg     register tiles, no workgroup memory: each invocation 16×16 outputs.
//   matmul_reg32   the same with 32×16 outputs per invocation: fewer loads per FMA, so faster
//                  on llvmpipe for large shapes, but 2.5× the compile time and coarser tiles.
//   matmul_wg      workgroup-memory tiles (64×64×16, 4×4 per invocation, 256 invocations), the
//                  usual winner on discrete GPUs.
//   matmul_wg128   workgroup-memory tiles of 128×128×8, 8×8 per invocation (256 invocations),
//                  for large products on hardware GPUs.
//   matmul_colsum  deterministic column sums (the bias gradient of a linear layer).
//
// Each GEMM dispatch uses a 1-D logical grid that the host may fold into 2-D (more than 65 535
// workgroups): the linear workgroup index is wid.x + wid.y * nwg.x, and indices at or past the
// real count are ignored.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  a_stride: u32, // elements between batches of A (0 = broadcast)
  b_stride: u32,
  c_stride: u32,
  flags: u32, // FLAG_BIAS
  alpha: f32,
  groups_n: u32, // workgroups along N per batch
  groups_m: u32, // workgroups along M per batch
  threads_n: u32, // matmul_reg*: invocations along N in a workgroup of 64 (1 .. 64)
  // This dispatch sums k in [k_begin, k_end) (multiples of 4 except k_end = K). llvmpipe stops
  // any invocation after 65 535 loop iterations in all, so the host splits a long K.
  k_begin: u32,
  k_end: u32,
  pad0: u32,
  pad1: u32,
}

// Add bias[col] to every row.
const FLAG_BIAS: u32 = 1u;

// Layout switches, fixed per pipeline.
override TRANS_A: bool = false;
override TRANS_B: bool = false;
// A (B) may be read as vec4: its contiguous dimension is a multiple of 4.
override A_VEC: bool = false;
override B_VEC: bool = false;
// Add to what C holds (the later K chunks). A constant, not a flag: reading C back costs
// llvmpipe compile time even behind a branch.
override ACCUMULATE: bool = false;

// Shared by every GEMM entry point. A and B are bound twice, as scalars and as vec4 (read-only
// aliases of one buffer are allowed), so one pipeline layout serves every shape.
@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a1: array<f32>;
@group(0) @binding(2) var<storage, read> a4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> b1: array<f32>;
@group(0) @binding(6) var<storage, read> b4: array<vec4f>;

// ---------------------------------------------------------------------------------------------
// Loads. Rows and columns past the matrix are clamped to the last valid one (their results are
// never stored), so the hot loops have no divergent branches; k at or past k_end reads 0.

// Flat index of A(r, k) for r < M, k < K.
fn a_index(abase: u32, r: u32, k: u32) -> u32 {
  if (TRANS_A) {
    return abase + k * p.M + r;
  }
  return abase + r * p.K + k;
}

// Flat index of B(k, col) for k < K, col < N.
fn b_index(bbase: u32, k: u32, col: u32) -> u32 {
  if (TRANS_B) {
    return bbase + col * p.K + k;
  }
  return bbase + k * p.N + col;
}

// (A(r, k0), …, A(r, k0 + 3)) for a valid row r.
fn a_quad(abase: u32, r: u32, k0: u32) -> vec4f {
  if (A_VEC && !TRANS_A) {
    // K % 4 == 0, so k0 < K implies k0 + 3 < K.
    return select(vec4f(0.0), a4[a_index(abase, r, min(k0, p.k_end - 4u)) / 4u], k0 < p.k_end);
  }
  let last_k = p.k_end - 1u;
  return vec4f(
    select(0.0, a1[a_index(abase, r, min(k0, last_k))], k0 < p.k_end),
    select(0.0, a1[a_index(abase, r, min(k0 + 1u, last_k))], k0 + 1u < p.k_end),
    select(0.0, a1[a_index(abase, r, min(k0 + 2u, last_k))], k0 + 2u < p.k_end),
    select(0.0, a1[a_index(abase, r, min(k0 + 3u, last_k))], k0 + 3u < p.k_end),
  );
}

// (A(r0, k), …, A(r0 + 3, k)), rows clamped.
fn a_quad_t(abase: u32, r0: u32, k: u32) -> vec4f {
  let kk = min(k, p.k_end - 1u);
  if (A_VEC && TRANS_A) {
    // M % 4 == 0: the 4 rows are contiguous at each k.
    return select(vec4f(0.0), a4[a_index(abase, min(r0, p.M - 4u), kk) / 4u], k < p.k_end);
  }
  let last_r = p.M - 1u;
  let v = vec4f(
    a1[a_index(abase, min(r0, last_r), kk)],
    a1[a_index(abase, min(r0 + 1u, last_r), kk)],
    a1[a_index(abase, min(r0 + 2u, last_r), kk)],
    a1[a_index(abase, min(r0 + 3u, last_r), kk)],
  );
  return select(vec4f(0.0), v, k < p.k_end);
}

// (B(k, c0), …, B(k, c0 + 3)), columns clamped.
fn b_quad(bbase: u32, k: u32, c0: u32) -> vec4f {
  let kk = min(k, p.k_end - 1u);
  if (B_VEC && !TRANS_B) {
    // N % 4 == 0: 4 columns of one k-row are one vec4.
    return select(vec4f(0.0), b4[b_index(bbase, kk, min(c0, p.N - 4u)) / 4u], k < p.k_end);
  }
  let last_c = p.N - 1u;
  let v = vec4f(
    b1[b_index(bbase, kk, min(c0, last_c))],
    b1[b_index(bbase, kk, min(c0 + 1u, last_c))],
    b1[b_index(bbase, kk, min(c0 + 2u, last_c))],
    b1[b_index(bbase, kk, min(c0 + 3u, last_c))],
  );
  return select(vec4f(0.0), v, k < p.k_end);
}

// (B(k0, col), …, B(k0 + 3, col)) for a valid column.
fn b_quad_t(bbase: u32, k0: u32, col: u32) -> vec4f {
  if (B_VEC && TRANS_B) {
    // K % 4 == 0: a column of op(B) is contiguous over k.
    return select(vec4f(0.0), b4[b_index(bbase, min(k0, p.k_end - 4u), col) / 4u], k0 < p.k_end);
  }
  let last_k = p.k_end - 1u;
  return vec4f(
    select(0.0, b1[b_index(bbase, min(k0, last_k), col)], k0 < p.k_end),
    select(0.0, b1[b_index(bbase, min(k0 + 1u, last_k), col)], k0 + 1u < p.k_end),
    select(0.0, b1[b_index(bbase, min(k0 + 2u, last_k), col)], k0 + 2u < p.k_end),
    select(0.0, b1[b_index(bbase, min(k0 + 3u, last_k), col)], k0 + 3u < p.k_end),
  );
}

// Y: column c = (A(r0 + c, k0), …, A(r0 + c, k0 + 3)).
fn a_block(abase: u32, r0: u32, k0: u32) -> mat4x4f {
  if (TRANS_A) {
    return transpose(mat4x4f(
      a_quad_t(abase, r0, k0),
      a_quad_t(abase, r0, k0 + 1u),
      a_quad_t(abase, r0, k0 + 2u),
      a_quad_t(abase, r0, k0 + 3u),
    ));
  }
  let last_r = p.M - 1u;
  return mat4x4f(
    a_quad(abase, min(r0, last_r), k0),
    a_quad(abase, min(r0 + 1u, last_r), k0),
    a_quad(abase, min(r0 + 2u, last_r), k0),
    a_quad(abase, min(r0 + 3u, last_r), k0),
  );
}

// X: column t = (B(k0 + t, c0), …, B(k0 + t, c0 + 3)).
fn b_block(bbase: u32, k0: u32, c0: u32) -> mat4x4f {
  if (TRANS_B) {
    let last_c = p.N - 1u;
    return transpose(mat4x4f(
      b_quad_t(bbase, k0, min(c0, last_c)),
      b_quad_t(bbase, k0, min(c0 + 1u, last_c)),
      b_quad_t(bbase, k0, min(c0 + 2u, last_c)),
      b_quad_t(bbase, k0, min(c0 + 3u, last_c)),
    ));
  }
  return mat4x4f(
    b_quad(bbase, k0, c0),
    b_quad(bbase, k0 + 1u, c0),
    b_quad(bbase, k0 + 2u, c0),
    b_quad(bbase, k0 + 3u, c0),
  );
}

// ---------------------------------------------------------------------------------------------
// Stores and tiles.

// Writes row `row` of C at columns c0 .. c0 + 3 (those < N): alpha · v + b (+ C).
fn store_row(cbase: u32, row: u32, c0: u32, b: vec4f, v: vec4f) {
  if (row < p.M) {
    let i = cbase + row * p.N + c0;
    var o = v * p.alpha + b;
    if (ACCUMULATE) {
      let l = cbase + row * p.N + p.N - 1u;
      o += vec4f(c[min(i, l)], c[min(i + 1u, l)], c[min(i + 2u, l)], c[min(i + 3u, l)]);
    }
    if (c0 < p.N) {
      c[i] = o.x;
    }
    if (c0 + 1u < p.N) {
      c[i + 1u] = o.y;
    }
    if (c0 + 2u < p.N) {
      c[i + 2u] = o.z;
    }
    if (c0 + 3u < p.N) {
      c[i + 3u] = o.w;
    }
  }
}

// bias[c0 .. c0 + 3] (clamped), or 0 without FLAG_BIAS.
fn bias4(c0: u32) -> vec4f {
  var b = vec4f(0.0);
  if ((p.flags & FLAG_BIAS) != 0u) {
    let l = p.N - 1u;
    b = vec4f(bias[min(c0, l)], bias[min(c0 + 1u, l)], bias[min(c0 + 2u, l)], bias[min(c0 + 3u, l)]);
  }
  return b;
}

// Writes a 4×4 block of Cᵀ (column r = row r0 + r of C, columns c0 .. c0 + 3), skipping what
// lies outside C.
fn store_block(cbase: u32, r0: u32, c0: u32, blk: mat4x4f) {
  let b = bias4(c0);
  store_row(cbase, r0, c0, b, blk[0]);
  store_row(cbase, r0 + 1u, c0, b, blk[1]);
  store_row(cbase, r0 + 2u, c0, b, blk[2]);
  store_row(cbase, r0 + 3u, c0, b, blk[3]);
}

// The 16×16 tile: acc[4r + j] (row r0 + r, columns c0 + 4j .. c0 + 4j + 3) += X_j · y
// with y = (A(r0 + r, k), …, A(r0 + r, k + 3)), taken from 4-row blocks Y (columns = rows).
// One vec4 accumulator per row and column quad, indices spelled out so they stay in
// registers (as mat4x4 blocks, the same arithmetic ran ~10 % slower and compiled ~1.5× longer).
fn update_16x16(
  acc: ptr<function, array<vec4f, 64>>,
  x: array<mat4x4f, 4>,
  abase: u32,
  r0: u32,
  k: u32,
) {
  let y0 = a_block(abase, r0, k);
  (*acc)[0] += x[0] * y0[0];
  (*acc)[1] += x[1] * y0[0];
  (*acc)[2] += x[2] * y0[0];
  (*acc)[3] += x[3] * y0[0];
  (*acc)[4] += x[0] * y0[1];
  (*acc)[5] += x[1] * y0[1];
  (*acc)[6] += x[2] * y0[1];
  (*acc)[7] += x[3] * y0[1];
  (*acc)[8] += x[0] * y0[2];
  (*acc)[9] += x[1] * y0[2];
  (*acc)[10] += x[2] * y0[2];
  (*acc)[11] += x[3] * y0[2];
  (*acc)[12] += x[0] * y0[3];
  (*acc)[13] += x[1] * y0[3];
  (*acc)[14] += x[2] * y0[3];
  (*acc)[15] += x[3] * y0[3];
  let y1 = a_block(abase, r0 + 4u, k);
  (*acc)[16] += x[0] * y1[0];
  (*acc)[17] += x[1] * y1[0];
  (*acc)[18] += x[2] * y1[0];
  (*acc)[19] += x[3] * y1[0];
  (*acc)[20] += x[0] * y1[1];
  (*acc)[21] += x[1] * y1[1];
  (*acc)[22] += x[2] * y1[1];
  (*acc)[23] += x[3] * y1[1];
  (*acc)[24] += x[0] * y1[2];
  (*acc)[25] += x[1] * y1[2];
  (*acc)[26] += x[2] * y1[2];
  (*acc)[27] += x[3] * y1[2];
  (*acc)[28] += x[0] * y1[3];
  (*acc)[29] += x[1] * y1[3];
  (*acc)[30] += x[2] * y1[3];
  (*acc)[31] += x[3] * y1[3];
  let y2 = a_block(abase, r0 + 8u, k);
  (*acc)[32] += x[0] * y2[0];
  (*acc)[33] += x[1] * y2[0];
  (*acc)[34] += x[2] * y2[0];
  (*acc)[35] += x[3] * y2[0];
  (*acc)[36] += x[0] * y2[1];
  (*acc)[37] += x[1] * y2[1];
  (*acc)[38] += x[2] * y2[1];
  (*acc)[39] += x[3] * y2[1];
  (*acc)[40] += x[0] * y2[2];
  (*acc)[41] += x[1] * y2[2];
  (*acc)[42] += x[2] * y2[2];
  (*acc)[43] += x[3] * y2[2];
  (*acc)[44] += x[0] * y2[3];
  (*acc)[45] += x[1] * y2[3];
  (*acc)[46] += x[2] * y2[3];
  (*acc)[47] += x[3] * y2[3];
  let y3 = a_block(abase, r0 + 12u, k);
  (*acc)[48] += x[0] * y3[0];
  (*acc)[49] += x[1] * y3[0];
  (*acc)[50] += x[2] * y3[0];
  (*acc)[51] += x[3] * y3[0];
  (*acc)[52] += x[0] * y3[1];
  (*acc)[53] += x[1] * y3[1];
  (*acc)[54] += x[2] * y3[1];
  (*acc)[55] += x[3] * y3[1];
  (*acc)[56] += x[0] * y3[2];
  (*acc)[57] += x[1] * y3[2];
  (*acc)[58] += x[2] * y3[2];
  (*acc)[59] += x[3] * y3[2];
  (*acc)[60] += x[0] * y3[3];
  (*acc)[61] += x[1] * y3[3];
  (*acc)[62] += x[2] * y3[3];
  (*acc)[63] += x[3] * y3[3];
}

fn store_16x16(acc: ptr<function, array<vec4f, 64>>, cbase: u32, r0: u32, c0: u32) {
  let b0 = bias4(c0);
  let b1 = bias4(c0 + 4u);
  let b2 = bias4(c0 + 8u);
  let b3 = bias4(c0 + 12u);
  store_row(cbase, r0, c0, b0, (*acc)[0]);
  store_row(cbase, r0, c0 + 4u, b1, (*acc)[1]);
  store_row(cbase, r0, c0 + 8u, b2, (*acc)[2]);
  store_row(cbase, r0, c0 + 12u, b3, (*acc)[3]);
  store_row(cbase, r0 + 1u, c0, b0, (*acc)[4]);
  store_row(cbase, r0 + 1u, c0 + 4u, b1, (*acc)[5]);
  store_row(cbase, r0 + 1u, c0 + 8u, b2, (*acc)[6]);
  store_row(cbase, r0 + 1u, c0 + 12u, b3, (*acc)[7]);
  store_row(cbase, r0 + 2u, c0, b0, (*acc)[8]);
  store_row(cbase, r0 + 2u, c0 + 4u, b1, (*acc)[9]);
  store_row(cbase, r0 + 2u, c0 + 8u, b2, (*acc)[10]);
  store_row(cbase, r0 + 2u, c0 + 12u, b3, (*acc)[11]);
  store_row(cbase, r0 + 3u, c0, b0, (*acc)[12]);
  store_row(cbase, r0 + 3u, c0 + 4u, b1, (*acc)[13]);
  store_row(cbase, r0 + 3u, c0 + 8u, b2, (*acc)[14]);
  store_row(cbase, r0 + 3u, c0 + 12u, b3, (*acc)[15]);
  store_row(cbase, r0 + 4u, c0, b0, (*acc)[16]);
  store_row(cbase, r0 + 4u, c0 + 4u, b1, (*acc)[17]);
  store_row(cbase, r0 + 4u, c0 + 8u, b2, (*acc)[18]);
  store_row(cbase, r0 + 4u, c0 + 12u, b3, (*acc)[19]);
  store_row(cbase, r0 + 5u, c0, b0, (*acc)[20]);
  store_row(cbase, r0 + 5u, c0 + 4u, b1, (*acc)[21]);
  store_row(cbase, r0 + 5u, c0 + 8u, b2, (*acc)[22]);
  store_row(cbase, r0 + 5u, c0 + 12u, b3, (*acc)[23]);
  store_row(cbase, r0 + 6u, c0, b0, (*acc)[24]);
  store_row(cbase, r0 + 6u, c0 + 4u, b1, (*acc)[25]);
  store_row(cbase, r0 + 6u, c0 + 8u, b2, (*acc)[26]);
  store_row(cbase, r0 + 6u, c0 + 12u, b3, (*acc)[27]);
  store_row(cbase, r0 + 7u, c0, b0, (*acc)[28]);
  store_row(cbase, r0 + 7u, c0 + 4u, b1, (*acc)[29]);
  store_row(cbase, r0 + 7u, c0 + 8u, b2, (*acc)[30]);
  store_row(cbase, r0 + 7u, c0 + 12u, b3, (*acc)[31]);
  store_row(cbase, r0 + 8u, c0, b0, (*acc)[32]);
  store_row(cbase, r0 + 8u, c0 + 4u, b1, (*acc)[33]);
  store_row(cbase, r0 + 8u, c0 + 8u, b2, (*acc)[34]);
  store_row(cbase, r0 + 8u, c0 + 12u, b3, (*acc)[35]);
  store_row(cbase, r0 + 9u, c0, b0, (*acc)[36]);
  store_row(cbase, r0 + 9u, c0 + 4u, b1, (*acc)[37]);
  store_row(cbase, r0 + 9u, c0 + 8u, b2, (*acc)[38]);
  store_row(cbase, r0 + 9u, c0 + 12u, b3, (*acc)[39]);
  store_row(cbase, r0 + 10u, c0, b0, (*acc)[40]);
  store_row(cbase, r0 + 10u, c0 + 4u, b1, (*acc)[41]);
  store_row(cbase, r0 + 10u, c0 + 8u, b2, (*acc)[42]);
  store_row(cbase, r0 + 10u, c0 + 12u, b3, (*acc)[43]);
  store_row(cbase, r0 + 11u, c0, b0, (*acc)[44]);
  store_row(cbase, r0 + 11u, c0 + 4u, b1, (*acc)[45]);
  store_row(cbase, r0 + 11u, c0 + 8u, b2, (*acc)[46]);
  store_row(cbase, r0 + 11u, c0 + 12u, b3, (*acc)[47]);
  store_row(cbase, r0 + 12u, c0, b0, (*acc)[48]);
  store_row(cbase, r0 + 12u, c0 + 4u, b1, (*acc)[49]);
  store_row(cbase, r0 + 12u, c0 + 8u, b2, (*acc)[50]);
  store_row(cbase, r0 + 12u, c0 + 12u, b3, (*acc)[51]);
  store_row(cbase, r0 + 13u, c0, b0, (*acc)[52]);
  store_row(cbase, r0 + 13u, c0 + 4u, b1, (*acc)[53]);
  store_row(cbase, r0 + 13u, c0 + 8u, b2, (*acc)[54]);
  store_row(cbase, r0 + 13u, c0 + 12u, b3, (*acc)[55]);
  store_row(cbase, r0 + 14u, c0, b0, (*acc)[56]);
  store_row(cbase, r0 + 14u, c0 + 4u, b1, (*acc)[57]);
  store_row(cbase, r0 + 14u, c0 + 8u, b2, (*acc)[58]);
  store_row(cbase, r0 + 14u, c0 + 12u, b3, (*acc)[59]);
  store_row(cbase, r0 + 15u, c0, b0, (*acc)[60]);
  store_row(cbase, r0 + 15u, c0 + 4u, b1, (*acc)[61]);
  store_row(cbase, r0 + 15u, c0 + 8u, b2, (*acc)[62]);
  store_row(cbase, r0 + 15u, c0 + 12u, b3, (*acc)[63]);
}

// The 32×16 tile: acc[4r + j] (row r0 + r, columns c0 + 4j .. c0 + 4j + 3) += X_j · y
// with y = (A(r0 + r, k), …, A(r0 + r, k + 3)), taken from 4-row blocks Y (columns = rows).
// One vec4 accumulator per row and column quad, indices spelled out so they stay in
// registers (as mat4x4 blocks, the same arithmetic ran ~10 % slower and compiled ~1.5× longer).
fn update_32x16(
  acc: ptr<function, array<vec4f, 128>>,
  x: array<mat4x4f, 4>,
  abase: u32,
  r0: u32,
  k: u32,
) {
  let y0 = a_block(abase, r0, k);
  (*acc)[0] += x[0] * y0[0];
  (*acc)[1] += x[1] * y0[0];
  (*acc)[2] += x[2] * y0[0];
  (*acc)[3] += x[3] * y0[0];
  (*acc)[4] += x[0] * y0[1];
  (*acc)[5] += x[1] * y0[1];
  (*acc)[6] += x[2] * y0[1];
  (*acc)[7] += x[3] * y0[1];
  (*acc)[8] += x[0] * y0[2];
  (*acc)[9] += x[1] * y0[2];
  (*acc)[10] += x[2] * y0[2];
  (*acc)[11] += x[3] * y0[2];
  (*acc)[12] += x[0] * y0[3];
  (*acc)[13] += x[1] * y0[3];
  (*acc)[14] += x[2] * y0[3];
  (*acc)[15] += x[3] * y0[3];
  let y1 = a_block(abase, r0 + 4u, k);
  (*acc)[16] += x[0] * y1[0];
  (*acc)[17] += x[1] * y1[0];
  (*acc)[18] += x[2] * y1[0];
  (*acc)[19] += x[3] * y1[0];
  (*acc)[20] += x[0] * y1[1];
  (*acc)[21] += x[1] * y1[1];
  (*acc)[22] += x[2] * y1[1];
  (*acc)[23] += x[3] * y1[1];
  (*acc)[24] += x[0] * y1[2];
  (*acc)[25] += x[1] * y1[2];
  (*acc)[26] += x[2] * y1[2];
  (*acc)[27] += x[3] * y1[2];
  (*acc)[28] += x[0] * y1[3];
  (*acc)[29] += x[1] * y1[3];
  (*acc)[30] += x[2] * y1[3];
  (*acc)[31] += x[3] * y1[3];
  let y2 = a_block(abase, r0 + 8u, k);
  (*acc)[32] += x[0] * y2[0];
  (*acc)[33] += x[1] * y2[0];
  (*acc)[34] += x[2] * y2[0];
  (*acc)[35] += x[3] * y2[0];
  (*acc)[36] += x[0] * y2[1];
  (*acc)[37] += x[1] * y2[1];
  (*acc)[38] += x[2] * y2[1];
  (*acc)[39] += x[3] * y2[1];
  (*acc)[40] += x[0] * y2[2];
  (*acc)[41] += x[1] * y2[2];
  (*acc)[42] += x[2] * y2[2];
  (*acc)[43] += x[3] * y2[2];
  (*acc)[44] += x[0] * y2[3];
  (*acc)[45] += x[1] * y2[3];
  (*acc)[46] += x[2] * y2[3];
  (*acc)[47] += x[3] * y2[3];
  let y3 = a_block(abase, r0 + 12u, k);
  (*acc)[48] += x[0] * y3[0];
  (*acc)[49] += x[1] * y3[0];
  (*acc)[50] += x[2] * y3[0];
  (*acc)[51] += x[3] * y3[0];
  (*acc)[52] += x[0] * y3[1];
  (*acc)[53] += x[1] * y3[1];
  (*acc)[54] += x[2] * y3[1];
  (*acc)[55] += x[3] * y3[1];
  (*acc)[56] += x[0] * y3[2];
  (*acc)[57] += x[1] * y3[2];
  (*acc)[58] += x[2] * y3[2];
  (*acc)[59] += x[3] * y3[2];
  (*acc)[60] += x[0] * y3[3];
  (*acc)[61] += x[1] * y3[3];
  (*acc)[62] += x[2] * y3[3];
  (*acc)[63] += x[3] * y3[3];
  let y4 = a_block(abase, r0 + 16u, k);
  (*acc)[64] += x[0] * y4[0];
  (*acc)[65] += x[1] * y4[0];
  (*acc)[66] += x[2] * y4[0];
  (*acc)[67] += x[3] * y4[0];
  (*acc)[68] += x[0] * y4[1];
  (*acc)[69] += x[1] * y4[1];
  (*acc)[70] += x[2] * y4[1];
  (*acc)[71] += x[3] * y4[1];
  (*acc)[72] += x[0] * y4[2];
  (*acc)[73] += x[1] * y4[2];
  (*acc)[74] += x[2] * y4[2];
  (*acc)[75] += x[3] * y4[2];
  (*acc)[76] += x[0] * y4[3];
  (*acc)[77] += x[1] * y4[3];
  (*acc)[78] += x[2] * y4[3];
  (*acc)[79] += x[3] * y4[3];
  let y5 = a_block(abase, r0 + 20u, k);
  (*acc)[80] += x[0] * y5[0];
  (*acc)[81] += x[1] * y5[0];
  (*acc)[82] += x[2] * y5[0];
  (*acc)[83] += x[3] * y5[0];
  (*acc)[84] += x[0] * y5[1];
  (*acc)[85] += x[1] * y5[1];
  (*acc)[86] += x[2] * y5[1];
  (*acc)[87] += x[3] * y5[1];
  (*acc)[88] += x[0] * y5[2];
  (*acc)[89] += x[1] * y5[2];
  (*acc)[90] += x[2] * y5[2];
  (*acc)[91] += x[3] * y5[2];
  (*acc)[92] += x[0] * y5[3];
  (*acc)[93] += x[1] * y5[3];
  (*acc)[94] += x[2] * y5[3];
  (*acc)[95] += x[3] * y5[3];
  let y6 = a_block(abase, r0 + 24u, k);
  (*acc)[96] += x[0] * y6[0];
  (*acc)[97] += x[1] * y6[0];
  (*acc)[98] += x[2] * y6[0];
  (*acc)[99] += x[3] * y6[0];
  (*acc)[100] += x[0] * y6[1];
  (*acc)[101] += x[1] * y6[1];
  (*acc)[102] += x[2] * y6[1];
  (*acc)[103] += x[3] * y6[1];
  (*acc)[104] += x[0] * y6[2];
  (*acc)[105] += x[1] * y6[2];
  (*acc)[106] += x[2] * y6[2];
  (*acc)[107] += x[3] * y6[2];
  (*acc)[108] += x[0] * y6[3];
  (*acc)[109] += x[1] * y6[3];
  (*acc)[110] += x[2] * y6[3];
  (*acc)[111] += x[3] * y6[3];
  let y7 = a_block(abase, r0 + 28u, k);
  (*acc)[112] += x[0] * y7[0];
  (*acc)[113] += x[1] * y7[0];
  (*acc)[114] += x[2] * y7[0];
  (*acc)[115] += x[3] * y7[0];
  (*acc)[116] += x[0] * y7[1];
  (*acc)[117] += x[1] * y7[1];
  (*acc)[118] += x[2] * y7[1];
  (*acc)[119] += x[3] * y7[1];
  (*acc)[120] += x[0] * y7[2];
  (*acc)[121] += x[1] * y7[2];
  (*acc)[122] += x[2] * y7[2];
  (*acc)[123] += x[3] * y7[2];
  (*acc)[124] += x[0] * y7[3];
  (*acc)[125] += x[1] * y7[3];
  (*acc)[126] += x[2] * y7[3];
  (*acc)[127] += x[3] * y7[3];
}

fn store_32x16(acc: ptr<function, array<vec4f, 128>>, cbase: u32, r0: u32, c0: u32) {
  let b0 = bias4(c0);
  let b1 = bias4(c0 + 4u);
  let b2 = bias4(c0 + 8u);
  let b3 = bias4(c0 + 12u);
  store_row(cbase, r0, c0, b0, (*acc)[0]);
  store_row(cbase, r0, c0 + 4u, b1, (*acc)[1]);
  store_row(cbase, r0, c0 + 8u, b2, (*acc)[2]);
  store_row(cbase, r0, c0 + 12u, b3, (*acc)[3]);
  store_row(cbase, r0 + 1u, c0, b0, (*acc)[4]);
  store_row(cbase, r0 + 1u, c0 + 4u, b1, (*acc)[5]);
  store_row(cbase, r0 + 1u, c0 + 8u, b2, (*acc)[6]);
  store_row(cbase, r0 + 1u, c0 + 12u, b3, (*acc)[7]);
  store_row(cbase, r0 + 2u, c0, b0, (*acc)[8]);
  store_row(cbase, r0 + 2u, c0 + 4u, b1, (*acc)[9]);
  store_row(cbase, r0 + 2u, c0 + 8u, b2, (*acc)[10]);
  store_row(cbase, r0 + 2u, c0 + 12u, b3, (*acc)[11]);
  store_row(cbase, r0 + 3u, c0, b0, (*acc)[12]);
  store_row(cbase, r0 + 3u, c0 + 4u, b1, (*acc)[13]);
  store_row(cbase, r0 + 3u, c0 + 8u, b2, (*acc)[14]);
  store_row(cbase, r0 + 3u, c0 + 12u, b3, (*acc)[15]);
  store_row(cbase, r0 + 4u, c0, b0, (*acc)[16]);
  store_row(cbase, r0 + 4u, c0 + 4u, b1, (*acc)[17]);
  store_row(cbase, r0 + 4u, c0 + 8u, b2, (*acc)[18]);
  store_row(cbase, r0 + 4u, c0 + 12u, b3, (*acc)[19]);
  store_row(cbase, r0 + 5u, c0, b0, (*acc)[20]);
  store_row(cbase, r0 + 5u, c0 + 4u, b1, (*acc)[21]);
  store_row(cbase, r0 + 5u, c0 + 8u, b2, (*acc)[22]);
  store_row(cbase, r0 + 5u, c0 + 12u, b3, (*acc)[23]);
  store_row(cbase, r0 + 6u, c0, b0, (*acc)[24]);
  store_row(cbase, r0 + 6u, c0 + 4u, b1, (*acc)[25]);
  store_row(cbase, r0 + 6u, c0 + 8u, b2, (*acc)[26]);
  store_row(cbase, r0 + 6u, c0 + 12u, b3, (*acc)[27]);
  store_row(cbase, r0 + 7u, c0, b0, (*acc)[28]);
  store_row(cbase, r0 + 7u, c0 + 4u, b1, (*acc)[29]);
  store_row(cbase, r0 + 7u, c0 + 8u, b2, (*acc)[30]);
  store_row(cbase, r0 + 7u, c0 + 12u, b3, (*acc)[31]);
  store_row(cbase, r0 + 8u, c0, b0, (*acc)[32]);
  store_row(cbase, r0 + 8u, c0 + 4u, b1, (*acc)[33]);
  store_row(cbase, r0 + 8u, c0 + 8u, b2, (*acc)[34]);
  store_row(cbase, r0 + 8u, c0 + 12u, b3, (*acc)[35]);
  store_row(cbase, r0 + 9u, c0, b0, (*acc)[36]);
  store_row(cbase, r0 + 9u, c0 + 4u, b1, (*acc)[37]);
  store_row(cbase, r0 + 9u, c0 + 8u, b2, (*acc)[38]);
  store_row(cbase, r0 + 9u, c0 + 12u, b3, (*acc)[39]);
  store_row(cbase, r0 + 10u, c0, b0, (*acc)[40]);
  store_row(cbase, r0 + 10u, c0 + 4u, b1, (*acc)[41]);
  store_row(cbase, r0 + 10u, c0 + 8u, b2, (*acc)[42]);
  store_row(cbase, r0 + 10u, c0 + 12u, b3, (*acc)[43]);
  store_row(cbase, r0 + 11u, c0, b0, (*acc)[44]);
  store_row(cbase, r0 + 11u, c0 + 4u, b1, (*acc)[45]);
  store_row(cbase, r0 + 11u, c0 + 8u, b2, (*acc)[46]);
  store_row(cbase, r0 + 11u, c0 + 12u, b3, (*acc)[47]);
  store_row(cbase, r0 + 12u, c0, b0, (*acc)[48]);
  store_row(cbase, r0 + 12u, c0 + 4u, b1, (*acc)[49]);
  store_row(cbase, r0 + 12u, c0 + 8u, b2, (*acc)[50]);
  store_row(cbase, r0 + 12u, c0 + 12u, b3, (*acc)[51]);
  store_row(cbase, r0 + 13u, c0, b0, (*acc)[52]);
  store_row(cbase, r0 + 13u, c0 + 4u, b1, (*acc)[53]);
  store_row(cbase, r0 + 13u, c0 + 8u, b2, (*acc)[54]);
  store_row(cbase, r0 + 13u, c0 + 12u, b3, (*acc)[55]);
  store_row(cbase, r0 + 14u, c0, b0, (*acc)[56]);
  store_row(cbase, r0 + 14u, c0 + 4u, b1, (*acc)[57]);
  store_row(cbase, r0 + 14u, c0 + 8u, b2, (*acc)[58]);
  store_row(cbase, r0 + 14u, c0 + 12u, b3, (*acc)[59]);
  store_row(cbase, r0 + 15u, c0, b0, (*acc)[60]);
  store_row(cbase, r0 + 15u, c0 + 4u, b1, (*acc)[61]);
  store_row(cbase, r0 + 15u, c0 + 8u, b2, (*acc)[62]);
  store_row(cbase, r0 + 15u, c0 + 12u, b3, (*acc)[63]);
  store_row(cbase, r0 + 16u, c0, b0, (*acc)[64]);
  store_row(cbase, r0 + 16u, c0 + 4u, b1, (*acc)[65]);
  store_row(cbase, r0 + 16u, c0 + 8u, b2, (*acc)[66]);
  store_row(cbase, r0 + 16u, c0 + 12u, b3, (*acc)[67]);
  store_row(cbase, r0 + 17u, c0, b0, (*acc)[68]);
  store_row(cbase, r0 + 17u, c0 + 4u, b1, (*acc)[69]);
  store_row(cbase, r0 + 17u, c0 + 8u, b2, (*acc)[70]);
  store_row(cbase, r0 + 17u, c0 + 12u, b3, (*acc)[71]);
  store_row(cbase, r0 + 18u, c0, b0, (*acc)[72]);
  store_row(cbase, r0 + 18u, c0 + 4u, b1, (*acc)[73]);
  store_row(cbase, r0 + 18u, c0 + 8u, b2, (*acc)[74]);
  store_row(cbase, r0 + 18u, c0 + 12u, b3, (*acc)[75]);
  store_row(cbase, r0 + 19u, c0, b0, (*acc)[76]);
  store_row(cbase, r0 + 19u, c0 + 4u, b1, (*acc)[77]);
  store_row(cbase, r0 + 19u, c0 + 8u, b2, (*acc)[78]);
  store_row(cbase, r0 + 19u, c0 + 12u, b3, (*acc)[79]);
  store_row(cbase, r0 + 20u, c0, b0, (*acc)[80]);
  store_row(cbase, r0 + 20u, c0 + 4u, b1, (*acc)[81]);
  store_row(cbase, r0 + 20u, c0 + 8u, b2, (*acc)[82]);
  store_row(cbase, r0 + 20u, c0 + 12u, b3, (*acc)[83]);
  store_row(cbase, r0 + 21u, c0, b0, (*acc)[84]);
  store_row(cbase, r0 + 21u, c0 + 4u, b1, (*acc)[85]);
  store_row(cbase, r0 + 21u, c0 + 8u, b2, (*acc)[86]);
  store_row(cbase, r0 + 21u, c0 + 12u, b3, (*acc)[87]);
  store_row(cbase, r0 + 22u, c0, b0, (*acc)[88]);
  store_row(cbase, r0 + 22u, c0 + 4u, b1, (*acc)[89]);
  store_row(cbase, r0 + 22u, c0 + 8u, b2, (*acc)[90]);
  store_row(cbase, r0 + 22u, c0 + 12u, b3, (*acc)[91]);
  store_row(cbase, r0 + 23u, c0, b0, (*acc)[92]);
  store_row(cbase, r0 + 23u, c0 + 4u, b1, (*acc)[93]);
  store_row(cbase, r0 + 23u, c0 + 8u, b2, (*acc)[94]);
  store_row(cbase, r0 + 23u, c0 + 12u, b3, (*acc)[95]);
  store_row(cbase, r0 + 24u, c0, b0, (*acc)[96]);
  store_row(cbase, r0 + 24u, c0 + 4u, b1, (*acc)[97]);
  store_row(cbase, r0 + 24u, c0 + 8u, b2, (*acc)[98]);
  store_row(cbase, r0 + 24u, c0 + 12u, b3, (*acc)[99]);
  store_row(cbase, r0 + 25u, c0, b0, (*acc)[100]);
  store_row(cbase, r0 + 25u, c0 + 4u, b1, (*acc)[101]);
  store_row(cbase, r0 + 25u, c0 + 8u, b2, (*acc)[102]);
  store_row(cbase, r0 + 25u, c0 + 12u, b3, (*acc)[103]);
  store_row(cbase, r0 + 26u, c0, b0, (*acc)[104]);
  store_row(cbase, r0 + 26u, c0 + 4u, b1, (*acc)[105]);
  store_row(cbase, r0 + 26u, c0 + 8u, b2, (*acc)[106]);
  store_row(cbase, r0 + 26u, c0 + 12u, b3, (*acc)[107]);
  store_row(cbase, r0 + 27u, c0, b0, (*acc)[108]);
  store_row(cbase, r0 + 27u, c0 + 4u, b1, (*acc)[109]);
  store_row(cbase, r0 + 27u, c0 + 8u, b2, (*acc)[110]);
  store_row(cbase, r0 + 27u, c0 + 12u, b3, (*acc)[111]);
  store_row(cbase, r0 + 28u, c0, b0, (*acc)[112]);
  store_row(cbase, r0 + 28u, c0 + 4u, b1, (*acc)[113]);
  store_row(cbase, r0 + 28u, c0 + 8u, b2, (*acc)[114]);
  store_row(cbase, r0 + 28u, c0 + 12u, b3, (*acc)[115]);
  store_row(cbase, r0 + 29u, c0, b0, (*acc)[116]);
  store_row(cbase, r0 + 29u, c0 + 4u, b1, (*acc)[117]);
  store_row(cbase, r0 + 29u, c0 + 8u, b2, (*acc)[118]);
  store_row(cbase, r0 + 29u, c0 + 12u, b3, (*acc)[119]);
  store_row(cbase, r0 + 30u, c0, b0, (*acc)[120]);
  store_row(cbase, r0 + 30u, c0 + 4u, b1, (*acc)[121]);
  store_row(cbase, r0 + 30u, c0 + 8u, b2, (*acc)[122]);
  store_row(cbase, r0 + 30u, c0 + 12u, b3, (*acc)[123]);
  store_row(cbase, r0 + 31u, c0, b0, (*acc)[124]);
  store_row(cbase, r0 + 31u, c0 + 4u, b1, (*acc)[125]);
  store_row(cbase, r0 + 31u, c0 + 8u, b2, (*acc)[126]);
  store_row(cbase, r0 + 31u, c0 + 12u, b3, (*acc)[127]);
}

// Workgroup coordinates (along N, along M, batch) of a 1-D logical workgroup index.
struct Tile {
  bn: u32,
  bm: u32,
  b: u32,
  valid: bool,
}

fn tile_of(wid: vec3u, nwg: vec3u, batches: u32) -> Tile {
  let linear = wid.x + wid.y * nwg.x;
  let per_batch = p.groups_n * p.groups_m;
  return Tile(linear % p.groups_n, (linear / p.groups_n) % p.groups_m, linear / per_batch,
    linear < per_batch * batches);
}

// ---------------------------------------------------------------------------------------------
// matmul_reg: workgroup = threads_n × (64 / threads_n) invocations of 16×16 outputs each. (The
// split is a uniform, not an override, so every split shares one compiled pipeline.)

@compute @workgroup_size(64)
fn matmul_reg(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = tile_of(wid, nwg, p.batch);
  if (!t.valid) {
    return;
  }
  let r0 = (t.bm * (64u / p.threads_n) + lid / p.threads_n) * 16u;
  let c0 = (t.bn * p.threads_n + lid % p.threads_n) * 16u;
  let abase = t.b * p.a_stride;
  let bbase = t.b * p.b_stride;
  var acc: array<vec4f, 64>;
  for (var k = p.k_begin; k < p.k_end; k += 4u) {
    let x = array(
      b_block(bbase, k, c0),
      b_block(bbase, k, c0 + 4u),
      b_block(bbase, k, c0 + 8u),
      b_block(bbase, k, c0 + 12u),
    );
    update_16x16(&acc, x, abase, r0, k);
  }
  store_16x16(&acc, t.b * p.c_stride, r0, c0);
}

// matmul_reg32: as matmul_reg with 32×16 outputs per invocation.

@compute @workgroup_size(64)
fn matmul_reg32(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = tile_of(wid, nwg, p.batch);
  if (!t.valid) {
    return;
  }
  let r0 = (t.bm * (64u / p.threads_n) + lid / p.threads_n) * 32u;
  let c0 = (t.bn * p.threads_n + lid % p.threads_n) * 16u;
  let abase = t.b * p.a_stride;
  let bbase = t.b * p.b_stride;
  var acc: array<vec4f, 128>;
  for (var k = p.k_begin; k < p.k_end; k += 4u) {
    let x = array(
      b_block(bbase, k, c0),
      b_block(bbase, k, c0 + 4u),
      b_block(bbase, k, c0 + 8u),
      b_block(bbase, k, c0 + 12u),
    );
    update_32x16(&acc, x, abase, r0, k);
  }
  store_32x16(&acc, t.b * p.c_stride, r0, c0);
}

// ---------------------------------------------------------------------------------------------
// matmul_wg: 64×64 tiles of C per workgroup of 256, k-steps of 16 through workgroup memory.
// Tile layouts are k-major with 4 rows (columns) per vec4, so each invocation reads its 4 rows
// and 4 columns at one k as two vec4.

var<workgroup> tile_a: array<vec4f, 256>; // [k 0..15][row quad 0..15]
var<workgroup> tile_b: array<vec4f, 256>; // [k 0..15][column quad 0..15]

// One k of the tile: rows 4·ty .. 4·ty + 3 times columns 4·tx .. 4·tx + 3.
fn wg_step(acc: ptr<function, mat4x4f>, kk: u32, tx: u32, ty: u32) {
  let av = tile_a[kk * 16u + ty];
  let bv = tile_b[kk * 16u + tx];
  (*acc)[0] += av.x * bv;
  (*acc)[1] += av.y * bv;
  (*acc)[2] += av.z * bv;
  (*acc)[3] += av.w * bv;
}

@compute @workgroup_size(256)
fn matmul_wg(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  // Uniform per workgroup, so returning keeps the barriers below in uniform control flow.
  let t = tile_of(wid, nwg, p.batch);
  if (!t.valid) {
    return;
  }
  let tx = lid % 16u;
  let ty = lid / 16u;
  let m0 = t.bm * 64u;
  let n0 = t.bn * 64u;
  let abase = t.b * p.a_stride;
  let bbase = t.b * p.b_stride;
  var acc = mat4x4f();
  for (var k0 = p.k_begin; k0 < p.k_end; k0 += 16u) {
    // Each invocation fills one vec4 of each tile, along the operand's contiguous dimension.
    if (TRANS_A) {
      tile_a[lid] = a_quad_t(abase, m0 + 4u * (lid % 16u), k0 + lid / 16u);
    } else {
      let r = lid / 4u;
      let kq = 4u * (lid % 4u);
      let v = a_quad(abase, min(m0 + r, p.M - 1u), k0 + kq);
      tile_a[kq * 16u + r / 4u][r % 4u] = v.x;
      tile_a[(kq + 1u) * 16u + r / 4u][r % 4u] = v.y;
      tile_a[(kq + 2u) * 16u + r / 4u][r % 4u] = v.z;
      tile_a[(kq + 3u) * 16u + r / 4u][r % 4u] = v.w;
    }
    if (TRANS_B) {
      let col = lid / 4u;
      let kq = 4u * (lid % 4u);
      let v = b_quad_t(bbase, k0 + kq, min(n0 + col, p.N - 1u));
      tile_b[kq * 16u + col / 4u][col % 4u] = v.x;
      tile_b[(kq + 1u) * 16u + col / 4u][col % 4u] = v.y;
      tile_b[(kq + 2u) * 16u + col / 4u][col % 4u] = v.z;
      tile_b[(kq + 3u) * 16u + col / 4u][col % 4u] = v.w;
    } else {
      tile_b[lid] = b_quad(bbase, k0 + lid / 16u, n0 + 4u * (lid % 16u));
    }
    workgroupBarrier();
    // Spelled out: on llvmpipe every loop iteration counts against the 65 535 limit.
    wg_step(&acc, 0u, tx, ty);
    wg_step(&acc, 1u, tx, ty);
    wg_step(&acc, 2u, tx, ty);
    wg_step(&acc, 3u, tx, ty);
    wg_step(&acc, 4u, tx, ty);
    wg_step(&acc, 5u, tx, ty);
    wg_step(&acc, 6u, tx, ty);
    wg_step(&acc, 7u, tx, ty);
    wg_step(&acc, 8u, tx, ty);
    wg_step(&acc, 9u, tx, ty);
    wg_step(&acc, 10u, tx, ty);
    wg_step(&acc, 11u, tx, ty);
    wg_step(&acc, 12u, tx, ty);
    wg_step(&acc, 13u, tx, ty);
    wg_step(&acc, 14u, tx, ty);
    wg_step(&acc, 15u, tx, ty);
    workgroupBarrier();
  }
  store_block(t.b * p.c_stride, m0 + 4u * ty, n0 + 4u * tx, acc);
}

// ---------------------------------------------------------------------------------------------
// matmul_wg128: 128×128 tiles of C per workgroup of 256, k-steps of 8 through workgroup memory
// (8 KiB). Each invocation keeps an 8×8 block of C in four mat4x4 accumulators, rows
// 4·ty .. 4·ty + 3 and 64 + 4·ty .. 64 + 4·ty + 3, columns likewise from tx: twice the FMAs per
// workgroup-memory load of matmul_wg, and neighbouring invocations read neighbouring vec4s. A
// variant for hardware GPUs (slow on llvmpipe, where barriers are expensive); the tuner tries it.

var<workgroup> tile_a8: array<vec4f, 256>; // [k 0..7][row quad 0..31]
var<workgroup> tile_b8: array<vec4f, 256>; // [k 0..7][column quad 0..31]

// acc += outer product: row i of the block (column i of the matrix) gains av[i] · bv.
fn wg128_outer(acc: ptr<function, mat4x4f>, av: vec4f, bv: vec4f) {
  (*acc)[0] += av.x * bv;
  (*acc)[1] += av.y * bv;
  (*acc)[2] += av.z * bv;
  (*acc)[3] += av.w * bv;
}

// One k of the tile for the invocation's four 4×4 blocks.
fn wg128_step(
  acc00: ptr<function, mat4x4f>,
  acc01: ptr<function, mat4x4f>,
  acc10: ptr<function, mat4x4f>,
  acc11: ptr<function, mat4x4f>,
  kk: u32,
  tx: u32,
  ty: u32,
) {
  let a_lo = tile_a8[kk * 32u + ty];
  let a_hi = tile_a8[kk * 32u + 16u + ty];
  let b_lo = tile_b8[kk * 32u + tx];
  let b_hi = tile_b8[kk * 32u + 16u + tx];
  wg128_outer(acc00, a_lo, b_lo);
  wg128_outer(acc01, a_lo, b_hi);
  wg128_outer(acc10, a_hi, b_lo);
  wg128_outer(acc11, a_hi, b_hi);
}

@compute @workgroup_size(256)
fn matmul_wg128(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  // Uniform per workgroup, so returning keeps the barriers below in uniform control flow.
  let t = tile_of(wid, nwg, p.batch);
  if (!t.valid) {
    return;
  }
  let tx = lid % 16u;
  let ty = lid / 16u;
  let m0 = t.bm * 128u;
  let n0 = t.bn * 128u;
  let abase = t.b * p.a_stride;
  let bbase = t.b * p.b_stride;
  var acc00 = mat4x4f();
  var acc01 = mat4x4f();
  var acc10 = mat4x4f();
  var acc11 = mat4x4f();
  for (var k0 = p.k_begin; k0 < p.k_end; k0 += 8u) {
    // Each invocation fills one vec4 of each tile, along the operand's contiguous dimension.
    if (TRANS_A) {
      tile_a8[lid] = a_quad_t(abase, m0 + 4u * (lid % 32u), k0 + lid / 32u);
    } else {
      let r = lid / 2u;
      let kq = 4u * (lid % 2u);
      let v = a_quad(abase, min(m0 + r, p.M - 1u), k0 + kq);
      tile_a8[kq * 32u + r / 4u][r % 4u] = v.x;
      tile_a8[(kq + 1u) * 32u + r / 4u][r % 4u] = v.y;
      tile_a8[(kq + 2u) * 32u + r / 4u][r % 4u] = v.z;
      tile_a8[(kq + 3u) * 32u + r / 4u][r % 4u] = v.w;
    }
    if (TRANS_B) {
      let col = lid / 2u;
      let kq = 4u * (lid % 2u);
      let v = b_quad_t(bbase, k0 + kq, min(n0 + col, p.N - 1u));
      tile_b8[kq * 32u + col / 4u][col % 4u] = v.x;
      tile_b8[(kq + 1u) * 32u + col / 4u][col % 4u] = v.y;
      tile_b8[(kq + 2u) * 32u + col / 4u][col % 4u] = v.z;
      tile_b8[(kq + 3u) * 32u + col / 4u][col % 4u] = v.w;
    } else {
      tile_b8[lid] = b_quad(bbase, k0 + lid / 32u, n0 + 4u * (lid % 32u));
    }
    workgroupBarrier();
    // Spelled out: on llvmpipe every loop iteration counts against the 65 535 limit.
    wg128_step(&acc00, &acc01, &acc10, &acc11, 0u, tx, ty);
    wg128_step(&acc00, &acc01, &acc10, &acc11, 1u, tx, ty);
    wg128_step(&acc00, &acc01, &acc10, &acc11, 2u, tx, ty);
    wg128_step(&acc00, &acc01, &acc10, &acc11, 3u, tx, ty);
    wg128_step(&acc00, &acc01, &acc10, &acc11, 4u, tx, ty);
    wg128_step(&acc00, &acc01, &acc10, &acc11, 5u, tx, ty);
    wg128_step(&acc00, &acc01, &acc10, &acc11, 6u, tx, ty);
    wg128_step(&acc00, &acc01, &acc10, &acc11, 7u, tx, ty);
    workgroupBarrier();
  }
  let cbase = t.b * p.c_stride;
  store_block(cbase, m0 + 4u * ty, n0 + 4u * tx, acc00);
  store_block(cbase, m0 + 4u * ty, n0 + 64u + 4u * tx, acc01);
  store_block(cbase, m0 + 64u + 4u * ty, n0 + 4u * tx, acc10);
  store_block(cbase, m0 + 64u + 4u * ty, n0 + 64u + 4u * tx, acc11);
}

// ---------------------------------------------------------------------------------------------
// matmul_colsum: out[j] = sum over rows i of src[i, j] for a row-major [rows, cols] matrix. A
// workgroup of 64 sums one column: invocation t adds rows t, t + 64, t + 128, … in order (4 per
// loop iteration: llvmpipe allows 65 535 iterations per invocation), then invocation 0 adds the
// 64 partial sums in index order. Deterministic (no atomics); rounding grows like n/64 + 64.

struct ColsumParams {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> cs_p: ColsumParams;
@group(0) @binding(1) var<storage, read> cs_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> cs_out: array<f32>;

var<workgroup> cs_part: array<f32, 64>;

fn cs_at(i: u32, j: u32) -> f32 {
  return select(0.0, cs_src[min(i, cs_p.rows - 1u) * cs_p.cols + j], i < cs_p.rows);
}

@compute @workgroup_size(64)
fn matmul_colsum(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let j = wid.x + wid.y * nwg.x; // uniform per workgroup: the barrier below stays legal
  if (j >= cs_p.cols) {
    return;
  }
  var sum = 0.0;
  for (var i = lid; i < cs_p.rows; i += 256u) {
    sum += cs_at(i, j);
    sum += cs_at(i + 64u, j);
    sum += cs_at(i + 128u, j);
    sum += cs_at(i + 192u, j);
  }
  cs_part[lid] = sum;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var t = 0u; t < 64u; t++) {
      total += cs_part[t];
    }
    cs_out[j] = total;
  }
}
