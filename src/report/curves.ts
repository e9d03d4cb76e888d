/**
 * The paper's per-family curves: similarity (or distance) to the clean view against the
 * transform's magnitude, one panel per synthetic family and one line per model. Each view of a
 * family's grid gets a scalar magnitude (the angle, the shift's length, the factor, the number of
 * bits …); views of equal magnitude (e.g. the four shifts of the same length in the translation
 * grid) are averaged into one point.
 *
 * @module
 */
import {
  type SyntheticFamily,
  syntheticGrid,
  type SyntheticParams,
} from "../transforms/synthetic_grid.ts";
import type { LineChart, LinePanel } from "./svg.ts";

const FLAG_FAMILIES = ["h_flip", "v_flip", "grayscale", "invert", "equalize"];

function pairLength(v: SyntheticParams[string]): number {
  return Array.isArray(v) ? Math.hypot(v[0], v[1]) : Number(v);
}

/** The magnitude of each view of a family's grid, and what it is (the x-axis label). */
export function viewMagnitudes(
  family: SyntheticFamily,
  grid: readonly SyntheticParams[],
): { label: string; x: number[] } {
  const pick = (key: string) => grid.map((p) => Number(p[key]));
  if (FLAG_FAMILIES.includes(family)) {
    return {
      label: "applied (0 = identity, 1 = transformed)",
      x: grid.map((p) => (p.aug ? 1 : 0)),
    };
  }
  switch (family) {
    case "rotation":
      return { label: "angle (°)", x: pick("angle") };
    case "translation":
      return { label: "shift length (px)", x: grid.map((p) => pairLength(p.translate)) };
    case "scale":
      return { label: "scale factor", x: pick("scale") };
    case "shear":
      return { label: "shear length (°)", x: grid.map((p) => pairLength(p.shear)) };
    case "resized_crop":
      return {
        label: "crop side √(h·w) (px)",
        x: grid.map((p) => Math.sqrt(Number(p.height) * Number(p.width))),
      };
    case "deform":
      return { label: "σ of the displacement field", x: pick("sigma") };
    case "brightness":
      return { label: "brightness factor", x: pick("brightness_factor") };
    case "contrast":
      return { label: "contrast factor", x: pick("contrast_factor") };
    case "saturation":
      return { label: "saturation factor", x: pick("saturation_factor") };
    case "hue":
      return { label: "hue shift", x: pick("hue_factor") };
    case "blur":
      return { label: "blur σ (px)", x: pick("sigma") };
    case "sharpness":
      return { label: "sharpness factor", x: pick("sharpness_factor") };
    case "posterize":
      return { label: "bits kept", x: pick("bits") };
    default:
      return { label: "view", x: grid.map((_, i) => i) };
  }
}

/**
 * Averages `y` over views of equal magnitude `x` (non-finite values skipped), sorted by x.
 */
export function averageByMagnitude(
  x: readonly number[],
  y: readonly (number | null)[],
): { x: number[]; y: (number | null)[] } {
  const groups = new Map<number, { s: number; n: number }>();
  x.forEach((xi, i) => {
    const key = Math.round(xi * 1e6) / 1e6;
    const g = groups.get(key) ?? { s: 0, n: 0 };
    const v = y[i];
    if (v !== null && v !== undefined && Number.isFinite(v)) {
      g.s += v;
      g.n++;
    }
    groups.set(key, g);
  });
  const keys = [...groups.keys()].sort((a, b) => a - b);
  return {
    x: keys,
    y: keys.map((k) => (groups.get(k)!.n > 0 ? groups.get(k)!.s / groups.get(k)!.n : null)),
  };
}

/** One model's per-view curves of each family (the demo's `results.json` `curve` field). */
export interface ModelCurves {
  label: string;
  /** Divides the distance curve (√(2d) for a d-dimensional feature), default 1. */
  distanceScale?: number;
  curves: Record<string, { k: number; similarity: (number | null)[]; distance: (number | null)[] }>;
}

/**
 * The similarity and distance curve charts of `models` over `families`, with each family's grid
 * rebuilt from `k` and the views' resize / crop sizes.
 */
export function syntheticCurveCharts(
  models: readonly ModelCurves[],
  families: readonly SyntheticFamily[],
  sizes: { resize: number; cropSize: number },
  references: readonly string[] = [],
): LineChart[] {
  const series = models.map((m) => m.label);
  const panels = (metric: "similarity" | "distance"): LinePanel[] =>
    families.filter((f) => models.some((m) => m.curves[f])).map((family) => {
      let label = "view";
      const lines = models.map((m) => {
        const c = m.curves[family];
        if (!c) return null;
        const grid = syntheticGrid(family, c.k, sizes);
        const mag = viewMagnitudes(family, grid);
        label = mag.label;
        const scale = metric === "distance" ? (m.distanceScale ?? 1) : 1;
        const y = c[metric].map((v) => (v === null ? null : v / scale));
        return averageByMagnitude(mag.x.slice(0, y.length), y);
      });
      return { title: family, xLabel: label, lines };
    });
  const refs = series.filter((s) => references.includes(s));
  const scaled = models.some((m) => (m.distanceScale ?? 1) !== 1);
  return [
    {
      id: "curves-similarity",
      title: "Synthetic invariance against the transform's magnitude: similarity",
      metric: "whitened cosine similarity of each view to the clean view, mean over the images",
      series,
      references: refs,
      panels: panels("similarity"),
      note:
        "Views of equal magnitude (e.g. shifts of the same length) are averaged into one point.",
    },
    {
      id: "curves-distance",
      title: "Synthetic invariance against the transform's magnitude: distance",
      metric: scaled
        ? "Mahalanobis distance of each view to the clean view ÷ √(2d) (d = the model's feature " +
          "dimension), mean over the images"
        : "Mahalanobis distance of each view to the clean view, mean over the images",
      series,
      references: refs,
      panels: panels("distance"),
      scale: "log",
      note:
        (scaled
          ? "Scale: divided by √(2d), the expected distance between two independent whitened " +
            "d-dimensional features, on logarithmic axes"
          : "Scale: logarithmic axes") +
        ", so models whose distances differ by orders of magnitude stay readable.",
    },
  ];
}
