/**
 * `deno task bench eval`: the evaluation's heavy float64 numerics against numpy / scikit-learn on
 * the same data in the same run (a spawned `/usr/bin/python3`, when numpy and sklearn import), in
 * seconds. Both sides use the same OpenBLAS environment (OPENBLAS_* variables are inherited) and
 * the same thread count; the run prints our engine (`linalgInfo()`) and numpy's (threadpoolctl).
 *
 * Rows (`SSL_BENCH_ONLY=cov,whiten,logistic,krr` picks some; `SSL_BENCH_SCALE=0.25` shrinks the
 * covariance and whitening sizes):
 * - `cov`: covariance of 50 000 × 2048 float32 features vs `np.cov(X, rowvar=False)` (with
 *   `SSL_BENCH_GPU=1` also the GPU engine, f32 blocks + float64 sums);
 * - `whiten`: Cholesky + whitening (factor Σ, form L⁻¹, whiten 257 rows) for D = 2048 and 6144 vs the
 *   original's float64 `inv` + float32 `cholesky` + matmul;
 * - `logistic`: the downstream grid (45 C × 5 folds, warm start, then the refit) on
 *   `SSL_BENCH_LOGISTIC=50000x2048` features, 10 classes, vs the same loop over one sklearn
 *   `LogisticRegression(warm_start=True)` on the same folds (sklearn's KFold with the same seed);
 *   selected C and test accuracy of both;
 * - `krr`: the Causal3DIdent grid (5 α × 8 γ × 5 folds, StandardScaler → RBF KernelRidge, then the
 *   refit and test R²) at `SSL_BENCH_KRR=4096,8192` training samples (d = 2048, 1024 test), vs
 *   sklearn rebuilding the kernel for every (α, γ) and fold as GridSearchCV does;
 *   `SSL_BENCH_KRR_PEER=0` times ours alone (the paper size, n = 20 480).
 *
 * Writes `results/bench/eval.json`.
 *
 * @module
 */
import { join } from "node:path";
import { openGpu } from "../../src/gpu/device.ts";
import { covarianceF64, covarianceGpu } from "../../src/eval/statistics.ts";
import { Whitener } from "../../src/eval/whitening.ts";
import { downstreamEvaluation, regularisationGrid } from "../../src/eval/downstream.ts";
import { extrinsicEvaluation, KRR_ALPHAS, KRR_GAMMAS } from "../../src/eval/extrinsic.ts";
import { linalgInfo } from "../../src/linalg/blas.ts";
import { encodeNpy } from "../../src/io/npy.ts";
import { runMain } from "../../src/util/main.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, report, row } from "./harness.ts";

const PY = "/usr/bin/python3";
const SCALE = Number(Deno.env.get("SSL_BENCH_SCALE") ?? "1");
const sz = (n: number) => Math.max(8, Math.round(n * SCALE));
const ONLY = new Set(
  (Deno.env.get("SSL_BENCH_ONLY") ?? "cov,whiten,logistic,krr").split(",").map((s) => s.trim()),
);
const [LOG_N, LOG_D] = (Deno.env.get("SSL_BENCH_LOGISTIC") ?? "50000x2048").split("x").map(Number);
const KRR_NS = (Deno.env.get("SSL_BENCH_KRR") ?? "4096,8192").split(",").map(Number);
const KRR_PEER = Deno.env.get("SSL_BENCH_KRR_PEER") !== "0";
/** The seed of the CV folds: sklearn's `KFold(shuffle=True, random_state=SEED)` on both sides. */
const FOLD_SEED = 12345;

async function havePython(): Promise<boolean> {
  try {
    const out = await new Deno.Command(PY, {
      args: ["-c", "import numpy, sklearn, scipy"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Runs a Python snippet; its last stdout line is JSON. */
async function python(code: string): Promise<Record<string, number>> {
  const out = await new Deno.Command(PY, { args: ["-c", code], stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, (performance.now() - t0) / 1000];
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, (performance.now() - t0) / 1000];
}

function correlatedFeatures(rng: Rng, n: number, d: number): Float32Array {
  // Rectified mixtures, like pooled ReLU features: positive, correlated, well-conditioned.
  const x = new Float32Array(n * d);
  const base = rng.normalArray(d * 8);
  for (let i = 0; i < n; i++) {
    const z = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    for (let j = 0; j < d; j++) {
      const v = z[0] * base[j] + z[1] * base[d + j] + z[2] * base[2 * d + j] +
        z[3] * base[3 * d + j];
      x[i * d + j] = Math.max(0, v + rng.normal()) + 0.1 * rng.normal();
    }
  }
  return x;
}

const loadAvg = async () => (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3);

await runMain("bench eval", async () => {
  const py = await havePython();
  const peer = py ? "numpy/sklearn (python3)" : "none";
  const rows: BenchRow[] = [];
  // Each row also goes to stderr as soon as it is measured (a long run may be cut short).
  const push = (r: BenchRow) => {
    rows.push(r);
    console.error(`row: ${JSON.stringify(r)}`);
  };
  const tmp = await Deno.makeTempDir({ prefix: "eval-bench-" });
  const rng = new Rng(20240601);
  const say = (s: string) => console.error(s);
  const la = linalgInfo();
  say(
    `ours: ${la.engine}${la.library ? ` ${la.library}` : ""}, ${la.threads} threads, kernel ` +
      `${la.corename ?? "-"}; OPENBLAS_CORETYPE=${Deno.env.get("OPENBLAS_CORETYPE") ?? "-"} ` +
      `OPENBLAS_L2_SIZE=${Deno.env.get("OPENBLAS_L2_SIZE") ?? "-"} ` +
      `OPENBLAS_NUM_THREADS=${
        Deno.env.get("OPENBLAS_NUM_THREADS") ?? "-"
      }; load ${await loadAvg()}`,
  );
  if (py) {
    const r = await python(`
import json, numpy, sklearn
try:
    from threadpoolctl import threadpool_info
    i = [p for p in threadpool_info() if p.get("user_api") == "blas"][0]
    print(json.dumps({"lib": i["filepath"], "kernel": i.get("architecture"), "threads": i["num_threads"], "numpy": numpy.__version__, "sklearn": sklearn.__version__}))
except ImportError:
    print(json.dumps({"lib": "?", "kernel": "?", "threads": -1, "numpy": numpy.__version__, "sklearn": sklearn.__version__}))
`).catch((e) => ({ error: String(e) }));
    say(`peer: ${JSON.stringify(r)}`);
  }
  const gpu = Deno.env.get("SSL_BENCH_GPU") === "1" ? await openGpu() : undefined;
  const stamp = async (name: string) => say(`[${name}] load ${await loadAvg()}`);
  try {
    // --- covariance ------------------------------------------------------------------------
    if (ONLY.has("cov")) {
      const n = sz(50000), d = sz(2048);
      const x = correlatedFeatures(rng, n, d);
      await stamp("covariance");
      const [cpu, tCpu] = time(() => covarianceF64(x, n, d));
      let tNp: number | null = null;
      if (py) {
        const f = join(tmp, "x.npy");
        await Deno.writeFile(f, encodeNpy(x, [n, d], "<f4"));
        await Deno.writeFile(join(tmp, "cov.bin"), new Uint8Array(cpu.cov.buffer));
        const r = await python(`
import json, time, numpy as np
x = np.load(${JSON.stringify(f)})
t = time.perf_counter(); c = np.cov(x.astype(np.float64), rowvar=False); t = time.perf_counter() - t
ours = np.fromfile(${JSON.stringify(join(tmp, "cov.bin"))}, dtype=np.float64).reshape(c.shape)
s = np.sqrt(np.outer(np.diag(c), np.diag(c)))
print(json.dumps({"t": t, "err": float(np.max(np.abs(ours - c) / s))}))`);
        tNp = r.t;
        say(`covariance ${n}x${d}: f64 cpu vs numpy max rel err ${r.err.toExponential(2)}`);
      }
      push(row(`covariance ${n}x${d} f64 cpu`, "s", tCpu, peer, tNp));
      if (gpu) {
        const [g, tGpu] = await timeAsync(() => covarianceGpu(gpu, x, n, d));
        let errGpu = 0;
        for (let i = 0; i < d; i++) {
          for (let j = 0; j < d; j++) {
            const s = Math.sqrt(cpu.cov[i * d + i] * cpu.cov[j * d + j]);
            errGpu = Math.max(errGpu, Math.abs(g.cov[i * d + j] - cpu.cov[i * d + j]) / s);
          }
        }
        say(`covariance ${n}x${d}: gpu vs f64 max rel err ${errGpu.toExponential(2)}`);
        push(row(`covariance ${n}x${d} gpu f32+f64`, "s", tGpu, peer, tNp));
      }
    }
    // --- Cholesky + whitening --------------------------------------------------------------
    if (ONLY.has("whiten")) {
      for (const d0 of [2048, 6144]) {
        const d = sz(d0), n = 2 * d, m = Math.min(257, n);
        const x = correlatedFeatures(rng, n, d);
        const s = covarianceF64(x, n, d);
        const views = x.subarray(0, m * d);
        await stamp(`whiten ${d}`);
        const [w, tFactor] = time(() => Whitener.fromCovariance(s.mean, s.cov));
        const [, tWhiten] = time(() => w.whiten(views, m));
        let tPy: number | null = null;
        if (py) {
          await Deno.writeFile(join(tmp, "c.bin"), new Uint8Array(s.cov.buffer));
          await Deno.writeFile(join(tmp, "v.bin"), new Uint8Array(views.slice().buffer));
          const r = await python(`
import json, time, numpy as np, torch
c = np.fromfile(${JSON.stringify(join(tmp, "c.bin"))}, dtype=np.float64).reshape(${d}, ${d})
v = torch.from_numpy(np.fromfile(${
            JSON.stringify(join(tmp, "v.bin"))
          }, dtype=np.float32).reshape(${m}, ${d}))
t = time.perf_counter()
P = np.linalg.inv(c); L = torch.linalg.cholesky(torch.from_numpy(P).float()); z = v @ L
t = time.perf_counter() - t
print(json.dumps({"t": t, "torch_threads": torch.get_num_threads()}))`).catch((e) => {
            say(`python whitening failed: ${e}`);
            return { t: NaN, torch_threads: NaN };
          });
          tPy = Number.isFinite(r.t) ? r.t : null;
          say(`whitening D=${d}: torch threads ${r.torch_threads}`);
        }
        push(row(`cholesky+whiten D=${d} (257 rows)`, "s", tFactor + tWhiten, peer, tPy));
        say(
          `whitening D=${d}: factor+inverse ${tFactor.toFixed(2)} s, whiten ${
            tWhiten.toFixed(3)
          } s`,
        );
      }
    }
    // --- logistic regression: the downstream grid ------------------------------------------
    if (ONLY.has("logistic")) {
      const n = LOG_N, d = LOG_D, k = 10, nt = Math.round(n / 5);
      const centres = rng.normalArray(k * d, 0.08);
      const make = (rows: number) => {
        const xs = new Float64Array(rows * d);
        const ys = new Float64Array(rows);
        for (let i = 0; i < rows; i++) {
          const c = rng.int(k);
          ys[i] = c;
          for (let j = 0; j < d; j++) {
            xs[i * d + j] = Math.fround(centres[c * d + j] + rng.normal());
          }
        }
        return { xs, ys };
      };
      const tr = make(n), te = make(nt);
      const grid = [...regularisationGrid("default")];
      await stamp(`logistic ${n}x${d}`);
      const [ours, tOurs] = time(() =>
        downstreamEvaluation(
          { x: { rows: n, cols: d, data: tr.xs }, y: tr.ys, targetDim: 1 },
          { x: { rows: nt, cols: d, data: te.xs }, y: te.ys, targetDim: 1 },
          {
            probe: "logistic",
            metric: "accuracy",
            folds: 5,
            shuffler: FOLD_SEED,
            grid,
            progress: "bench logistic grid",
          },
        )
      );
      let tSk: number | null = null;
      if (py) {
        for (
          const [name, arr] of [["lx", tr.xs], ["ly", tr.ys], ["tx", te.xs], ["ty", te.ys]] as const
        ) {
          await Deno.writeFile(join(tmp, `${name}.bin`), new Uint8Array(arr.buffer));
        }
        await Deno.writeFile(join(tmp, "grid.bin"), new Uint8Array(Float64Array.from(grid).buffer));
        await stamp("logistic sklearn");
        const r = await python(`
import json, time, warnings, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
warnings.filterwarnings("ignore")
p = lambda n: ${JSON.stringify(tmp)} + "/" + n + ".bin"
x = np.fromfile(p("lx")).reshape(${n}, ${d}); y = np.fromfile(p("ly")).astype(np.int64)
xt = np.fromfile(p("tx")).reshape(${nt}, ${d}); yt = np.fromfile(p("ty")).astype(np.int64)
grid = np.fromfile(p("grid"))
t = time.perf_counter()
folds = list(KFold(5, shuffle=True, random_state=${FOLD_SEED}).split(x))
clf = LogisticRegression(solver="lbfgs", multi_class="multinomial", max_iter=100, warm_start=True)
best, best_wd = -np.inf, grid[0]
for wd in grid:
    s = 0.0
    for tr_i, te_i in folds:
        clf.set_params(C=1 / wd)
        clf.fit(x[tr_i], y[tr_i])
        s += np.mean(clf.predict(x[te_i]) == y[te_i])
    s /= len(folds)
    if s > best:
        best, best_wd = s, wd
clf.set_params(C=1 / best_wd); clf.fit(x, y)
acc = float(np.mean(clf.predict(xt) == yt))
t = time.perf_counter() - t
print(json.dumps({"t": t, "acc": acc, "wd": float(best_wd), "cv": float(best)}))`);
        tSk = r.t;
        say(
          `logistic grid ${n}x${d}: selected wd ours ${ours.wd.toExponential(4)} sklearn ${
            r.wd.toExponential(4)
          }; test accuracy ours ${ours.testScore.toFixed(4)} sklearn ${r.acc.toFixed(4)}`,
        );
      }
      push(row(`logistic grid 45Cx5 ${n}x${d} k=10`, "s", tOurs, peer, tSk));
    }
    // --- kernel ridge: the Causal3DIdent grid ----------------------------------------------
    if (ONLY.has("krr")) {
      for (const n of KRR_NS) {
        const d = 2048, nt = 1024;
        const xs = new Float64Array((n + nt) * d);
        for (let i = 0; i < xs.length; i++) xs[i] = Math.fround(rng.normal());
        const ys = new Float64Array(n + nt);
        for (let i = 0; i < n + nt; i++) {
          ys[i] = Math.sin(xs[i * d]) + 0.5 * xs[i * d + 1] * xs[i * d + 2] + 0.1 * rng.normal();
        }
        await stamp(`krr ${n}`);
        const [ours, tOurs] = await timeAsync(() =>
          extrinsicEvaluation(
            {
              x: { rows: n, cols: d, data: xs.subarray(0, n * d) },
              y: { rows: n, cols: 1, data: ys.subarray(0, n) },
            },
            {
              x: { rows: nt, cols: d, data: xs.subarray(n * d) },
              y: { rows: nt, cols: 1, data: ys.subarray(n) },
            },
            { folds: 5, shuffler: FOLD_SEED, progress: `bench krr n=${n}` },
          )
        );
        say(
          `krr n=${n}: ours α=${ours.alpha} γ=${ours.gamma} cv ${ours.score.toFixed(6)} ` +
            `test R² ${ours.r2.toFixed(6)} in ${tOurs.toFixed(1)} s`,
        );
        let tSk: number | null = null;
        if (py && KRR_PEER) {
          await Deno.writeFile(join(tmp, "kx.bin"), new Uint8Array(xs.buffer));
          await Deno.writeFile(join(tmp, "ky.bin"), new Uint8Array(ys.buffer));
          await stamp(`krr ${n} sklearn`);
          const r = await python(`
import json, time, numpy as np
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
x = np.fromfile(${JSON.stringify(join(tmp, "kx.bin"))}).reshape(-1, ${d})
y = np.fromfile(${JSON.stringify(join(tmp, "ky.bin"))})
xtr, ytr, xte, yte = x[:${n}], y[:${n}], x[${n}:], y[${n}:]
alphas = ${JSON.stringify(KRR_ALPHAS)}; gammas = ${JSON.stringify(KRR_GAMMAS)}
t = time.perf_counter()
folds = list(KFold(5, shuffle=True, random_state=${FOLD_SEED}).split(xtr))
best, ba, bg = -np.inf, alphas[0], gammas[0]
for a in alphas:
    for g in gammas:
        s = 0.0
        for tr_i, te_i in folds:
            m = make_pipeline(StandardScaler(), KernelRidge(alpha=a, kernel="rbf", gamma=g))
            m.fit(xtr[tr_i], ytr[tr_i])
            s += m.score(xtr[te_i], ytr[te_i])
        s /= len(folds)
        if s > best:
            best, ba, bg = s, a, g
m = make_pipeline(StandardScaler(), KernelRidge(alpha=ba, kernel="rbf", gamma=bg)).fit(xtr, ytr)
r2 = float(m.score(xte, yte))
t = time.perf_counter() - t
print(json.dumps({"t": t, "alpha": ba, "gamma": bg, "cv": float(best), "r2": r2}))`);
          tSk = r.t;
          say(
            `krr n=${n}: sklearn α=${r.alpha} γ=${r.gamma} cv ${r.cv.toFixed(6)} test R² ${
              r.r2.toFixed(6)
            } (R² diff ${(ours.r2 - r.r2).toExponential(2)}) in ${r.t.toFixed(1)} s`,
          );
        }
        push(row(`kernel ridge CV 5ax8gx5 + refit n=${n}`, "s", tOurs, peer, tSk));
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  say(`load at the end ${await loadAvg()}`);
  await report("eval", gpu ? gpu.summary.description : `cpu (${la.engine})`, rows);
  gpu?.destroy();
});
