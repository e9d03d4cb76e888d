// InfoNCE (MoCo's contrastive cross-entropy with target 0) over a queue of K negatives, fused
// forward and gradient in one streaming pass over the queue, plus the queue's ring-buffer write.
//
// Shapes: q [N, dim] and k [N, dim] row-major; queue [dim, K] row-major (PyTorch layout: column j
// is key j). Logits of row i: l_i0 = q_i·k_i / T, l_ij = q_i·queue[:, j-1] / T.
//
// The queue is cut into chunks of whole 256-column tiles. One workgroup owns RB rows and one
// chunk, and keeps, per row, an online softmax over its chunk (flash-attention style):
//   m  = running maximum (the stabiliser, identical across the workgroup),
//   s  = Σ_j exp(l_ij − m),
//   o  = Σ_j exp(l_ij − m) · queue[:, j]   (a [dim] vector),
//   c  = #{ j : l_ij ≥ l_i0 }               (for top-1 / top-5 of the contrastive classifier),
// rescaling s and o by exp(m_old − m_new) when a tile raises the maximum. `infonce_finalize`
// merges the chunks of each row (log-sum-exp, loss, accuracy counts, softmax weights) in a fixed
// order, and `infonce_dq` forms dq_i = (1/(N·T)) · (Σ_j p_ij key_j − k_i) from them. Every sum
// has a fixed order (the only atomic is a workgroup max, which is exact and order-independent),
// so results are bit-identical run to run.
//
// Entry points dispatched with a 1-D count that may be split into 2-D compute their linear
// workgroup index as wid.x + wid.y * nwg.x and ignore indices past the real count.

// Rows per workgroup in the chunk pass.
const RB: u32 = 8u;
// Threads per workgroup.
const WG: u32 = 64u;
// Columns per tile: each thread owns 4 adjacent columns.
const TILE: u32 = 256u;
// Stands in for −∞: exp(NEG_BIG − m) is exactly 0 for any finite m.
const NEG_BIG: f32 = -3.0e38;

// ---------------------------------------------------------------------------------------------
// Positive logits l_i0 = q_i·k_i / T, summed in the same order (and with the same fma) as the
// negatives in `infonce_chunk`, so a negative equal to k_i gets a bit-identical logit.

struct PosParams {
  n: u32,
  dim: u32,
  temperature: f32,
}

@group(0) @binding(0) var<uniform> pos_p: PosParams;
@group(0) @binding(1) var<storage, read> pos_q: array<f32>;
@group(0) @binding(2) var<storage, read> pos_k: array<f32>;
@group(0) @binding(3) var<storage, read_write> pos_out: array<f32>;

@compute @workgroup_size(64)
fn infonce_positive(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= pos_p.n) {
    return;
  }
  let base = i * pos_p.dim;
  var acc = 0.0;
  for (var d = 0u; d < pos_p.dim; d++) {
    acc = fma(pos_q[base + d], pos_k[base + d], acc);
  }
  pos_out[i] = acc / pos_p.temperature;
}

// ---------------------------------------------------------------------------------------------
// One (row block, chunk) per workgroup. Two entry points share everything but their loads:
// `infonce_chunk_vec4` reads q and the queue as vec4 (dim and K divisible by 4: MoCo's shapes),
// `infonce_chunk` reads scalars (any shape). Each thread owns 4 adjacent columns of a tile.

struct ChunkParams {
  n: u32,
  dim: u32,
  kq: u32,
  tiles_per_chunk: u32,
  chunks: u32,
  row_blocks: u32,
  temperature: f32,
}

@group(0) @binding(0) var<uniform> ch_p: ChunkParams;
@group(0) @binding(1) var<storage, read> ch_q: array<f32>;
@group(0) @binding(2) var<storage, read> ch_queue: array<f32>;
@group(0) @binding(1) var<storage, read> ch_q4: array<vec4f>;
@group(0) @binding(2) var<storage, read> ch_queue4: array<vec4f>;
@group(0) @binding(3) var<storage, read> ch_lpos: array<f32>;
// [N, chunks, 3]: (max, Σ exp(l − max), count of l ≥ l_pos) of each row's chunk.
@group(0) @binding(4) var<storage, read_write> ch_stats: array<f32>;
// [N, chunks, dim]: Σ exp(l − max) · key of each row's chunk.
@group(0) @binding(5) var<storage, read_write> ch_o: array<f32>;

// Softmax numerators of the current tile, [RB, TILE / 4] vec4s (thread lid owns entry lid).
var<workgroup> w_p4: array<vec4f, 512>;
// Row maxima of the current tile as order-preserving u32 keys (atomicMax is exact and
// order-independent, so the result stays deterministic).
var<workgroup> w_max: array<atomic<u32>, 8>;
// Per-thread partials for the end-of-chunk tree reductions, [RB, WG].
var<workgroup> w_red: array<f32, 512>;
var<workgroup> w_cnt: array<u32, 512>;

// Monotone map f32 → u32 (so unsigned max = float max) and back.
fn order_key(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn from_order_key(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

// Per-row running state of one thread (m is identical across the workgroup).
struct RowState {
  m: array<f32, 8>,
  s: array<f32, 8>,
  cnt: array<u32, 8>,
  lpos: array<f32, 8>,
}

struct ChunkGeometry {
  row0: u32,
  chunk: u32,
  col_begin: u32,
  col_end: u32,
  ntiles: u32,
}

fn chunk_geometry(w: u32) -> ChunkGeometry {
  var g: ChunkGeometry;
  g.chunk = w % ch_p.chunks;
  g.row0 = (w / ch_p.chunks) * RB;
  g.col_begin = g.chunk * ch_p.tiles_per_chunk * TILE;
  g.col_end = min(ch_p.kq, g.col_begin + ch_p.tiles_per_chunk * TILE);
  g.ntiles = (g.col_end - g.col_begin + TILE - 1u) / TILE;
  return g;
}

fn init_state(row0: u32, lid: u32) -> RowState {
  var st: RowState;
  for (var r = 0u; r < RB; r++) {
    st.lpos[r] = ch_lpos[min(row0 + r, ch_p.n - 1u)];
    st.m[r] = NEG_BIG;
    st.s[r] = 0.0;
    st.cnt[r] = 0u;
  }
  if (lid < RB) {
    atomicStore(&w_max[lid], order_key(NEG_BIG));
  }
  workgroupBarrier();
  return st;
}

// Raw dot products q_r · queue[:, t0 + 4·lid + c] with scalar loads; d runs in order, with the
// same fma chain as `infonce_positive`.
fn dots_scalar(row0: u32, t0: u32, lid: u32) -> array<vec4f, 8> {
  let dim = ch_p.dim;
  let kq = ch_p.kq;
  let c = t0 + 4u * lid;
  let c0 = min(c, kq - 1u);
  let c1 = min(c + 1u, kq - 1u);
  let c2 = min(c + 2u, kq - 1u);
  let c3 = min(c + 3u, kq - 1u);
  var qb: array<u32, 8>;
  for (var r = 0u; r < RB; r++) {
    qb[r] = min(row0 + r, ch_p.n - 1u) * dim;
  }
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  var a4 = vec4f(0.0);
  var a5 = vec4f(0.0);
  var a6 = vec4f(0.0);
  var a7 = vec4f(0.0);
  for (var d = 0u; d < dim; d++) {
    let kb = d * kq;
    let kv = vec4f(ch_queue[kb + c0], ch_queue[kb + c1], ch_queue[kb + c2], ch_queue[kb + c3]);
    a0 = fma(vec4f(ch_q[qb[0] + d]), kv, a0);
    a1 = fma(vec4f(ch_q[qb[1] + d]), kv, a1);
    a2 = fma(vec4f(ch_q[qb[2] + d]), kv, a2);
    a3 = fma(vec4f(ch_q[qb[3] + d]), kv, a3);
    a4 = fma(vec4f(ch_q[qb[4] + d]), kv, a4);
    a5 = fma(vec4f(ch_q[qb[5] + d]), kv, a5);
    a6 = fma(vec4f(ch_q[qb[6] + d]), kv, a6);
    a7 = fma(vec4f(ch_q[qb[7] + d]), kv, a7);
  }
  return array<vec4f, 8>(a0, a1, a2, a3, a4, a5, a6, a7);
}

// One row of the vec4 product: acc += q.x·k0 + q.y·k1 + q.z·k2 + q.w·k3, in the order of d.
fn fma4(q: vec4f, k0: vec4f, k1: vec4f, k2: vec4f, k3: vec4f, acc: vec4f) -> vec4f {
  return fma(vec4f(q.w), k3, fma(vec4f(q.z), k2, fma(vec4f(q.y), k1, fma(vec4f(q.x), k0, acc))));
}

// As `dots_scalar`, with vec4 loads (dim % 4 == 0 and K % 4 == 0).
fn dots_vec4(row0: u32, t0: u32, lid: u32) -> array<vec4f, 8> {
  let d4 = ch_p.dim / 4u;
  let k4 = ch_p.kq / 4u;
  let cv = min(t0 / 4u + lid, k4 - 1u);
  var qb: array<u32, 8>;
  for (var r = 0u; r < RB; r++) {
    qb[r] = min(row0 + r, ch_p.n - 1u) * d4;
  }
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  var a4 = vec4f(0.0);
  var a5 = vec4f(0.0);
  var a6 = vec4f(0.0);
  var a7 = vec4f(0.0);
  for (var dd = 0u; dd < d4; dd++) {
    let kb = dd * 4u * k4 + cv;
    let k0 = ch_queue4[kb];
    let k1 = ch_queue4[kb + k4];
    let k2 = ch_queue4[kb + 2u * k4];
    let k3 = ch_queue4[kb + 3u * k4];
    a0 = fma4(ch_q4[qb[0] + dd], k0, k1, k2, k3, a0);
    a1 = fma4(ch_q4[qb[1] + dd], k0, k1, k2, k3, a1);
    a2 = fma4(ch_q4[qb[2] + dd], k0, k1, k2, k3, a2);
    a3 = fma4(ch_q4[qb[3] + dd], k0, k1, k2, k3, a3);
    a4 = fma4(ch_q4[qb[4] + dd], k0, k1, k2, k3, a4);
    a5 = fma4(ch_q4[qb[5] + dd], k0, k1, k2, k3, a5);
    a6 = fma4(ch_q4[qb[6] + dd], k0, k1, k2, k3, a6);
    a7 = fma4(ch_q4[qb[7] + dd], k0, k1, k2, k3, a7);
  }
  return array<vec4f, 8>(a0, a1, a2, a3, a4, a5, a6, a7);
}

// Turns a tile's dot products into logits, counts negatives ≥ the positive, raises the row
// maxima, stores p = exp(l − m) in w_p4 and updates the thread's sums. Returns the factor
// exp(m_old − m_new) by which the older sums of each row were scaled. Barriers inside: call from
// uniform control flow.
fn softmax_tile(
  dots: array<vec4f, 8>,
  t0: u32,
  col_end: u32,
  lid: u32,
  st: ptr<function, RowState>,
) -> array<f32, 8> {
  let c = t0 + 4u * lid;
  let valid = vec4<bool>(c < col_end, c + 1u < col_end, c + 2u < col_end, c + 3u < col_end);
  var logits: array<vec4f, 8>;
  for (var r = 0u; r < RB; r++) {
    let l = select(vec4f(NEG_BIG), dots[r] / ch_p.temperature, valid);
    logits[r] = l;
    let ge = valid & (l >= vec4f((*st).lpos[r]));
    (*st).cnt[r] += dot(select(vec4u(0u), vec4u(1u), ge), vec4u(1u));
    let lm = max(max(l.x, l.y), max(l.z, l.w));
    if (lm > (*st).m[r]) {
      atomicMax(&w_max[r], order_key(lm));
    }
  }
  workgroupBarrier();
  var alpha: array<f32, 8>;
  for (var r = 0u; r < RB; r++) {
    let m_new = from_order_key(atomicLoad(&w_max[r]));
    alpha[r] = exp((*st).m[r] - m_new);
    (*st).m[r] = m_new;
    let p = exp(logits[r] - vec4f(m_new));
    w_p4[r * WG + lid] = p;
    (*st).s[r] = (*st).s[r] * alpha[r] + ((p.x + p.y) + (p.z + p.w));
  }
  workgroupBarrier();
  return alpha;
}

// o[r, d] ← alpha_r · o[r, d] + Σ_j p[r, j] · queue[d, t0 + j] for the 2 dimensions d0, d0 + 1
// of thread slot `lid` (strided by 128 when dim > 128), scalar loads. The sums run in 4 lanes
// (j mod 4) of a vec4 with fma, added up at the end: half the instructions of a dot per step.
fn accumulate_scalar(g: ChunkGeometry, t0: u32, tile: u32, lid: u32, alpha: array<f32, 8>) {
  let dim = ch_p.dim;
  let kq = ch_p.kq;
  let groups = (min(TILE, g.col_end - t0) + 3u) / 4u;
  for (var d0 = lid * 2u; d0 < dim; d0 += WG * 2u) {
    let k0 = d0 * kq;
    let k1 = min(d0 + 1u, dim - 1u) * kq;
    var oa: array<vec4f, 16>;
    for (var e = 0u; e < 16u; e++) {
      oa[e] = vec4f(0.0);
    }
    for (var jj = 0u; jj < groups; jj++) {
      let j = t0 + 4u * jj;
      let j1 = min(j + 1u, kq - 1u);
      let j2 = min(j + 2u, kq - 1u);
      let j3 = min(j + 3u, kq - 1u);
      let kv0 = vec4f(ch_queue[k0 + j], ch_queue[k0 + j1], ch_queue[k0 + j2], ch_queue[k0 + j3]);
      let kv1 = vec4f(ch_queue[k1 + j], ch_queue[k1 + j1], ch_queue[k1 + j2], ch_queue[k1 + j3]);
      for (var r = 0u; r < RB; r++) {
        let p = w_p4[r * WG + jj];
        oa[2u * r] = fma(p, kv0, oa[2u * r]);
        oa[2u * r + 1u] = fma(p, kv1, oa[2u * r + 1u]);
      }
    }
    store_o(g, tile, d0, alpha, oa);
  }
}

// As `accumulate_scalar` with vec4 loads along the queue rows (K % 4 == 0).
fn accumulate_vec4(g: ChunkGeometry, t0: u32, tile: u32, lid: u32, alpha: array<f32, 8>) {
  let dim = ch_p.dim;
  let k4 = ch_p.kq / 4u;
  let groups = (min(TILE, g.col_end - t0) + 3u) / 4u;
  for (var d0 = lid * 2u; d0 < dim; d0 += WG * 2u) {
    let k0 = d0 * k4 + t0 / 4u;
    let k1 = min(d0 + 1u, dim - 1u) * k4 + t0 / 4u;
    var o0 = vec4f(0.0);
    var o1 = vec4f(0.0);
    var o2 = vec4f(0.0);
    var o3 = vec4f(0.0);
    var o4 = vec4f(0.0);
    var o5 = vec4f(0.0);
    var o6 = vec4f(0.0);
    var o7 = vec4f(0.0);
    var o8 = vec4f(0.0);
    var o9 = vec4f(0.0);
    var o10 = vec4f(0.0);
    var o11 = vec4f(0.0);
    var o12 = vec4f(0.0);
    var o13 = vec4f(0.0);
    var o14 = vec4f(0.0);
    var o15 = vec4f(0.0);
    for (var jj = 0u; jj < groups; jj++) {
      let kv0 = ch_queue4[k0 + jj];
      let kv1 = ch_queue4[k1 + jj];
      var p = w_p4[jj];
      o0 = fma(p, kv0, o0);
      o1 = fma(p, kv1, o1);
      p = w_p4[WG + jj];
      o2 = fma(p, kv0, o2);
      o3 = fma(p, kv1, o3);
      p = w_p4[2u * WG + jj];
      o4 = fma(p, kv0, o4);
      o5 = fma(p, kv1, o5);
      p = w_p4[3u * WG + jj];
      o6 = fma(p, kv0, o6);
      o7 = fma(p, kv1, o7);
      p = w_p4[4u * WG + jj];
      o8 = fma(p, kv0, o8);
      o9 = fma(p, kv1, o9);
      p = w_p4[5u * WG + jj];
      o10 = fma(p, kv0, o10);
      o11 = fma(p, kv1, o11);
      p = w_p4[6u * WG + jj];
      o12 = fma(p, kv0, o12);
      o13 = fma(p, kv1, o13);
      p = w_p4[7u * WG + jj];
      o14 = fma(p, kv0, o14);
      o15 = fma(p, kv1, o15);
    }
    let oa = array<vec4f, 16>(o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15);
    store_o(g, tile, d0, alpha, oa);
  }
}

// Writes (first tile) or rescales and adds (later tiles) the o partials of dims d0, d0 + 1.
fn store_o(g: ChunkGeometry, tile: u32, d0: u32, alpha: array<f32, 8>, oa: array<vec4f, 16>) {
  let dim = ch_p.dim;
  let second = d0 + 1u < dim;
  for (var r = 0u; r < RB; r++) {
    if (g.row0 + r < ch_p.n) {
      let ob = ((g.row0 + r) * ch_p.chunks + g.chunk) * dim + d0;
      let v0 = oa[2u * r];
      let v1 = oa[2u * r + 1u];
      let s0 = (v0.x + v0.y) + (v0.z + v0.w);
      let s1 = (v1.x + v1.y) + (v1.z + v1.w);
      if (tile == 0u) {
        ch_o[ob] = s0;
        if (second) {
          ch_o[ob + 1u] = s1;
        }
      } else {
        ch_o[ob] = fma(alpha[r], ch_o[ob], s0);
        if (second) {
          ch_o[ob + 1u] = fma(alpha[r], ch_o[ob + 1u], s1);
        }
      }
    }
  }
}

// Reduces the threads' sums and counts per row in a fixed tree order and writes the chunk's
// (max, sum, count) per row.
fn finish_chunk(g: ChunkGeometry, lid: u32, st: RowState) {
  for (var r = 0u; r < RB; r++) {
    w_red[r * WG + lid] = st.s[r];
    w_cnt[r * WG + lid] = st.cnt[r];
  }
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      for (var r = 0u; r < RB; r++) {
        let a = r * WG + lid;
        w_red[a] = w_red[a] + w_red[a + stride];
        w_cnt[a] = w_cnt[a] + w_cnt[a + stride];
      }
    }
    workgroupBarrier();
  }
  if (lid < RB && g.row0 + lid < ch_p.n) {
    let sb = ((g.row0 + lid) * ch_p.chunks + g.chunk) * 3u;
    ch_stats[sb] = st.m[lid];
    ch_stats[sb + 1u] = w_red[lid * WG];
    ch_stats[sb + 2u] = f32(w_cnt[lid * WG]);
  }
}

@compute @workgroup_size(64)
fn infonce_chunk(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= ch_p.chunks * ch_p.row_blocks) {
    return;
  }
  let g = chunk_geometry(w);
  var st = init_state(g.row0, lid);
  for (var tile = 0u; tile < g.ntiles; tile++) {
    let t0 = g.col_begin + tile * TILE;
    let dots = dots_scalar(g.row0, t0, lid);
    let alpha = softmax_tile(dots, t0, g.col_end, lid, &st);
    accumulate_scalar(g, t0, tile, lid, alpha);
    // w_p4 is rewritten by the next tile.
    workgroupBarrier();
  }
  finish_chunk(g, lid, st);
}

@compute @workgroup_size(64)
fn infonce_chunk_vec4(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= ch_p.chunks * ch_p.row_blocks) {
    return;
  }
  let g = chunk_geometry(w);
  var st = init_state(g.row0, lid);
  for (var tile = 0u; tile < g.ntiles; tile++) {
    let t0 = g.col_begin + tile * TILE;
    let dots = dots_vec4(g.row0, t0, lid);
    let alpha = softmax_tile(dots, t0, g.col_end, lid, &st);
    accumulate_vec4(g, t0, tile, lid, alpha);
    workgroupBarrier();
  }
  finish_chunk(g, lid, st);
}

// ---------------------------------------------------------------------------------------------
// One workgroup: merges each row's chunks, writes the per-chunk softmax weights (over the max
// slot of ch_stats) and the coefficient of k_i, and reduces loss and accuracy counts.

struct FinalParams {
  n: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> fin_p: FinalParams;
@group(0) @binding(1) var<storage, read> fin_lpos: array<f32>;
// In: [N, chunks, 3] (max, sum, count). Out: slot 0 becomes exp(max − M) / S.
@group(0) @binding(2) var<storage, read_write> fin_stats: array<f32>;
// [N]: −(Σ_{j ≥ 1} p_ij), the softmax mass of the negatives, negated.
@group(0) @binding(3) var<storage, read_write> fin_coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> fin_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> fin_correct: array<u32>;

var<workgroup> f_loss: array<f32, 64>;
var<workgroup> f_top1: array<u32, 64>;
var<workgroup> f_top5: array<u32, 64>;

// log(1 + x) without losing x when it is tiny (WGSL has no log1p).
fn log1p_accurate(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) {
    return x;
  }
  return log(u) * (x / (u - 1.0));
}

@compute @workgroup_size(64)
fn infonce_finalize(@builtin(local_invocation_index) lid: u32) {
  let n = fin_p.n;
  let chunks = fin_p.chunks;
  var loss_sum = 0.0;
  var top1 = 0u;
  var top5 = 0u;
  for (var i = lid; i < n; i += WG) {
    let lp = fin_lpos[i];
    let base = i * chunks * 3u;
    var mx = lp;
    for (var c = 0u; c < chunks; c++) {
      mx = max(mx, fin_stats[base + c * 3u]);
    }
    var s_neg = 0.0;
    var count = 0u;
    for (var c = 0u; c < chunks; c++) {
      s_neg += fin_stats[base + c * 3u + 1u] * exp(fin_stats[base + c * 3u] - mx);
      count += u32(fin_stats[base + c * 3u + 2u]);
    }
    let total = s_neg + exp(lp - mx);
    for (var c = 0u; c < chunks; c++) {
      fin_stats[base + c * 3u] = exp(fin_stats[base + c * 3u] - mx) / total;
    }
    fin_coef[i] = -(s_neg / total);
    // The positive is the maximum: loss = log(1 + Σ_neg exp(l − l_pos)), accurate when small.
    var loss_i = log1p_accurate(s_neg);
    if (lp < mx) {
      loss_i = (mx - lp) + log(total);
    }
    loss_sum += loss_i;
    top1 += select(0u, 1u, count < 1u);
    top5 += select(0u, 1u, count < 5u);
  }
  f_loss[lid] = loss_sum;
  f_top1[lid] = top1;
  f_top5[lid] = top5;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      f_loss[lid] = f_loss[lid] + f_loss[lid + stride];
      f_top1[lid] = f_top1[lid] + f_top1[lid + stride];
      f_top5[lid] = f_top5[lid] + f_top5[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    fin_loss[0] = f_loss[0] / f32(n);
    fin_correct[0] = f_top1[0];
    fin_correct[1] = f_top5[0];
  }
}

// ---------------------------------------------------------------------------------------------
// dq[i, d] = scale · (Σ_c w[i, c] · o[i, c, d] + coef[i] · k[i, d]), scale = 1 / (N·T).

struct DqParams {
  n: u32,
  dim: u32,
  chunks: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> dq_p: DqParams;
@group(0) @binding(1) var<storage, read> dq_k: array<f32>;
@group(0) @binding(2) var<storage, read> dq_stats: array<f32>;
@group(0) @binding(3) var<storage, read> dq_coef: array<f32>;
@group(0) @binding(4) var<storage, read> dq_o: array<f32>;
@group(0) @binding(5) var<storage, read_write> dq_out: array<f32>;

@compute @workgroup_size(64)
fn infonce_dq(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let idx = (wid.x + wid.y * nwg.x) * 64u + lid;
  let dim = dq_p.dim;
  if (idx >= dq_p.n * dim) {
    return;
  }
  let i = idx / dim;
  let d = idx % dim;
  let chunks = dq_p.chunks;
  var acc = 0.0;
  for (var c = 0u; c < chunks; c++) {
    acc = fma(dq_stats[(i * chunks + c) * 3u], dq_o[(i * chunks + c) * dim + d], acc);
  }
  dq_out[idx] = dq_p.scale * fma(dq_coef[i], dq_k[idx], acc);
}

// ---------------------------------------------------------------------------------------------
// Ring-buffer write: queue[d, ptr + i] = k[i, d].

struct EnqueueParams {
  n: u32,
  dim: u32,
  kq: u32,
  ptr: u32,
}

@group(0) @binding(0) var<uniform> enq_p: EnqueueParams;
@group(0) @binding(1) var<storage, read> enq_k: array<f32>;
@group(0) @binding(2) var<storage, read_write> enq_queue: array<f32>;

@compute @workgroup_size(64)
fn enqueue_keys(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  // Linear index over the destination [dim, N] window so that writes are contiguous.
  let idx = (wid.x + wid.y * nwg.x) * 64u + lid;
  let n = enq_p.n;
  if (idx >= n * enq_p.dim) {
    return;
  }
  let d = idx / n;
  let i = idx % n;
  enq_queue[d * enq_p.kq + enq_p.ptr + i] = enq_k[i * enq_p.dim + d];
}
