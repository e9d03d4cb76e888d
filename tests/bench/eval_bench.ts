/**
 * `deno task bench eval`: the evaluation's heavy numerics against numpy / scikit-learn on the same
 * data (a spawned `/usr/bin/python3`, when numpy and sklearn import), in seconds:
 *
 * - covariance of 50 000 × 2048 float32 features: our float64 CPU engine and the GPU engine (f32
 *   blocks + float64 sums) vs `np.cov(X, rowvar=False)`; max error relative to each entry's scale;
 * - Cholesky + whitening (factor Σ, form L⁻¹, whiten 257 rows) for D = 2048 and 6144 vs the
 *   original's float64 `inv` + float32 `cholesky` + matmul;
 * - multinomial L-BFGS logistic regression on 10 000 × 2048, 10 classes (C = 1, 100 iterations)
 *   vs sklearn; test accuracy difference;
 * - RBF kernel ridge fit + predict with n = 4096 (d = 2048) vs sklearn; R² difference.
 *
 * `SSL_BENCH_SCALE=0.25` shrinks every size (quick checks). Writes `results/bench/eval.json`.
 *
 * @module
 */
import { join } from "node:path";
import { openGpu } from "../../src/gpu/device.ts";
import { covarianceF64, covarianceGpu } from "../../src/eval/statistics.ts";
import { Whitener } from "../../src/eval/whitening.ts";
import { LogisticRegression } from "../../src/linalg/logistic.ts";
import { KernelRidge } from "../../src/linalg/kernel_ridge.ts";
import { r2Score } from "../../src/linalg/metrics.ts";
import { encodeNpy } from "../../src/io/npy.ts";
import { runMain } from "../../src/util/main.ts";
import { Rng } from "../../src/util/rng.ts";
import { type BenchRow, report, row } from "./harness.ts";

const PY = "/usr/bin/python3";
const SCALE = Number(Deno.env.get("SSL_BENCH_SCALE") ?? "1");
const sz = (n: number) => Math.max(8, Math.round(n * SCALE));

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

await runMain("bench eval", async () => {
  const gpu = await openGpu();
  const py = await havePython();
  const peer = py ? "numpy/sklearn (python3)" : "none";
  const rows: BenchRow[] = [];
  const tmp = await Deno.makeTempDir({ prefix: "eval-bench-" });
  const rng = new Rng(20240601);
  const say = (s: string) => console.error(s);
  try {
    // --- covariance ------------------------------------------------------------------------
    {
      const n = sz(50000), d = sz(2048);
      const x = correlatedFeatures(rng, n, d);
      const [cpu, tCpu] = time(() => covarianceF64(x, n, d));
      const [g, tGpu] = await timeAsync(() => covarianceGpu(gpu, x, n, d));
      let errGpu = 0;
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          const s = Math.sqrt(cpu.cov[i * d + i] * cpu.cov[j * d + j]);
          errGpu = Math.max(errGpu, Math.abs(g.cov[i * d + j] - cpu.cov[i * d + j]) / s);
        }
      }
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
      say(`covariance ${n}x${d}: gpu vs f64 max rel err ${errGpu.toExponential(2)}`);
      rows.push(row(`covariance ${n}x${d} f64 cpu`, "s", tCpu, peer, tNp));
      rows.push(row(`covariance ${n}x${d} gpu f32+f64`, "s", tGpu, peer, tNp));
    }
    // --- Cholesky + whitening --------------------------------------------------------------
    for (const d0 of [2048, 6144]) {
      const d = sz(d0), n = 2 * d, m = 257;
      const x = correlatedFeatures(rng, n, d);
      const s = covarianceF64(x, n, d);
      const views = x.subarray(0, m * d);
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
print(json.dumps({"t": t}))`).catch((e) => {
          say(`python whitening failed: ${e}`);
          return { t: NaN };
        });
        tPy = Number.isFinite(r.t) ? r.t : null;
      }
      rows.push(row(`cholesky+whiten D=${d} (257 rows)`, "s", tFactor + tWhiten, peer, tPy));
      say(
        `whitening D=${d}: factor+inverse ${tFactor.toFixed(2)} s, whiten ${tWhiten.toFixed(3)} s`,
      );
    }
    // --- logistic regression ---------------------------------------------------------------
    {
      const n = sz(10000), d = sz(2048), k = 10, nt = sz(2000);
      const centres = rng.normalArray(k * d, 0.08);
      const make = (rows: number) => {
        const xs = new Float32Array(rows * d);
        const ys = new Int32Array(rows);
        for (let i = 0; i < rows; i++) {
          const c = rng.int(k);
          ys[i] = c;
          for (let j = 0; j < d; j++) xs[i * d + j] = centres[c * d + j] + rng.normal();
        }
        return { xs, ys };
      };
      const tr = make(n), te = make(nt);
      const model = new LogisticRegression({ C: 1 });
      const [, tOurs] = time(() => model.fit({ rows: n, cols: d, data: tr.xs }, tr.ys));
      const pred = model.predict({ rows: nt, cols: d, data: te.xs });
      const acc = pred.reduce((s, p, i) => s + (p === te.ys[i] ? 1 : 0), 0) / nt;
      let tSk: number | null = null;
      if (py) {
        for (
          const [name, arr] of [["lx", tr.xs], ["ly", tr.ys], ["tx", te.xs], ["ty", te.ys]] as const
        ) {
          await Deno.writeFile(join(tmp, `${name}.bin`), new Uint8Array(arr.buffer));
        }
        const r = await python(`
import json, time, warnings, numpy as np
from sklearn.linear_model import LogisticRegression
warnings.filterwarnings("ignore")
p = lambda n: ${JSON.stringify(tmp)} + "/" + n + ".bin"
x = np.fromfile(p("lx"), dtype=np.float32).reshape(${n}, ${d}); y = np.fromfile(p("ly"), dtype=np.int32)
xt = np.fromfile(p("tx"), dtype=np.float32).reshape(${nt}, ${d}); yt = np.fromfile(p("ty"), dtype=np.int32)
m = LogisticRegression(solver="lbfgs", multi_class="multinomial", C=1.0)
t = time.perf_counter(); m.fit(x.astype(np.float64), y); t = time.perf_counter() - t
print(json.dumps({"t": t, "acc": float(np.mean(m.predict(xt) == yt)), "iters": int(m.n_iter_[0])}))`);
        tSk = r.t;
        say(
          `logistic ${n}x${d}: accuracy ours ${acc.toFixed(4)} sklearn ${r.acc.toFixed(4)} ` +
            `(diff ${(acc - r.acc).toFixed(4)}), iterations ours ${model.info?.iterations} ` +
            `sklearn ${r.iters}`,
        );
      }
      rows.push(row(`logistic lbfgs ${n}x${d} k=10`, "s", tOurs, peer, tSk));
    }
    // --- kernel ridge ----------------------------------------------------------------------
    {
      const n = sz(4096), d = sz(2048), nt = sz(1024);
      const xs = rng.normalArray((n + nt) * d);
      const ys = new Float64Array(n + nt);
      for (let i = 0; i < n + nt; i++) ys[i] = Math.sin(xs[i * d]) + 0.1 * xs[i * d + 1];
      const gamma = 1 / d;
      const model = new KernelRidge({ alpha: 0.1, gamma });
      const xTr = { rows: n, cols: d, data: xs.subarray(0, n * d) };
      const yTr = { rows: n, cols: 1, data: ys.subarray(0, n) };
      const xTe = { rows: nt, cols: d, data: xs.subarray(n * d) };
      const [, tOurs] = time(() => model.fit(xTr, yTr));
      const r2 = r2Score(ys.subarray(n), model.predict(xTe).data);
      let tSk: number | null = null;
      if (py) {
        await Deno.writeFile(join(tmp, "kx.bin"), new Uint8Array(xs.buffer));
        await Deno.writeFile(join(tmp, "ky.bin"), new Uint8Array(ys.buffer));
        const r = await python(`
import json, time, numpy as np
from sklearn.kernel_ridge import KernelRidge
x = np.fromfile(${
          JSON.stringify(join(tmp, "kx.bin"))
        }, dtype=np.float32).reshape(-1, ${d}).astype(np.float64)
y = np.fromfile(${JSON.stringify(join(tmp, "ky.bin"))}, dtype=np.float64)
m = KernelRidge(alpha=0.1, kernel="rbf", gamma=${gamma})
t = time.perf_counter(); m.fit(x[:${n}], y[:${n}]); t = time.perf_counter() - t
print(json.dumps({"t": t, "r2": float(m.score(x[${n}:], y[${n}:]))}))`);
        tSk = r.t;
        say(
          `kernel ridge n=${n}: R² ours ${r2.toFixed(6)} sklearn ${r.r2.toFixed(6)} (diff ${
            (r2 - r.r2).toExponential(2)
          })`,
        );
      }
      rows.push(row(`kernel ridge rbf fit n=${n} d=${d}`, "s", tOurs, peer, tSk));
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  await report("eval", gpu.summary.description, rows);
  gpu.destroy();
});
