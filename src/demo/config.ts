/**
 * The demo's fixed settings: which world it renders, which built-in checkpoints it evaluates and
 * how each evaluation is sized, in a full and a `--quick` variant. Kept in one place so the
 * demo, its retraining and `models/README.md` describe the same thing.
 *
 * @module
 */

/** The three MoCo v2 augmentation policies of the paper. */
export const DEMO_POLICIES = ["default", "ventral", "dorsal"] as const;

/** A policy name. */
export type DemoPolicy = typeof DEMO_POLICIES[number];

/** The built-in checkpoint of a policy (in `models/`). */
export function demoCheckpointName(policy: DemoPolicy): string {
  return `world_${policy}`;
}

/** The models the demo evaluates: each policy and their concatenation. */
export function demoModels(): { label: string; name: string }[] {
  const singles = DEMO_POLICIES.map((p) => ({ label: p, name: demoCheckpointName(p) }));
  return [
    ...singles,
    { label: DEMO_POLICIES.join("+"), name: singles.map((s) => s.name).join("+") },
  ];
}

/** A reference model evaluated beside the policies (a row in every table and plot). */
export interface DemoBaseline {
  /** How the report names it. */
  label: string;
  /** The model name `loadModel` resolves in the models folder. */
  name: string;
  /** Evaluated only when `<models-dir>/<name>.pth.tar` exists (otherwise the report says so). */
  optional: boolean;
  /** What it is, for the report's subtitle. */
  description: string;
}

/**
 * The demo's baselines: a seeded random-init network of the built-in checkpoints' architecture
 * (the registry writes `random_*` on first use; the name carries arch and width) and the
 * supervised network trained on the world's labels, when its checkpoint is there.
 */
export const DEMO_BASELINES: readonly DemoBaseline[] = [
  {
    label: "random-init",
    name: "random_resnet18_w16",
    optional: false,
    description: "random initialisation (seed 0), same architecture, no training",
  },
  {
    label: "supervised",
    name: "world_supervised",
    optional: true,
    description: "supervised on the world's class labels (the ceiling)",
  },
];

/** Everything that determines a built-in checkpoint. */
export interface PretrainSettings {
  /** World rendered for pretraining: an ImageFolder of 7 classes × `perClass`. */
  world: { seed: number; resolution: number; perClass: number; testPerClass: number };
  arch: string;
  baseWidth: number;
  imageSize: number;
  batchSize: number;
  /** BN groups of the shuffle-BN emulation (`--bn-groups`): images per group = batchSize / bnGroups. */
  bnGroups: number;
  mocoK: number;
  mocoT: number;
  mocoM: number;
  lr: number;
  /** Half-cosine learning rate (`--cos`); false: MoCo's step schedule at `milestones`. */
  cos: boolean;
  /**
   * Epochs at which the step schedule drops `lr` tenfold (`--schedule`); empty keeps the
   * original's default milestones (120, 160). Ignored with `cos`.
   */
  milestones: readonly number[];
  epochs: number;
  seed: number;
}

/**
 * How the built-in checkpoints were trained (`deno task demo --retrain` repeats it, and
 * models/README.md records it with the measurements that chose it): 21 000 images of world version
 * 4's stream for 50 epochs (16 400 steps), 32-px views, BN groups of 32 images, lr 0.03 held until
 * epoch 40, then a tenth of it, and a hundredth from epoch 45. The default policy leaves its loss
 * plateau only after about 5 000 steps at a high rate: 10 epochs (3 280 steps) left it 0.06 above
 * random init, so the recipe buys steps, and keeps the rate high while they are taken (MoCo's 0.03
 * per 256 would be 0.0075 here).
 */
export const PRETRAIN: Readonly<PretrainSettings> = {
  /** World rendered for pretraining: an ImageFolder of 7 classes × `perClass` at 64×64. */
  world: { seed: 0, resolution: 64, perClass: 3000, testPerClass: 50 },
  arch: "resnet18",
  baseWidth: 16,
  imageSize: 32,
  batchSize: 64,
  bnGroups: 2,
  mocoK: 1024,
  mocoT: 0.2,
  mocoM: 0.99,
  lr: 0.03,
  cos: false,
  milestones: [40, 45],
  epochs: 50,
  seed: 0,
};

/** The `deno task pretrain` arguments for one policy, writing into `outDir`. */
export function pretrainArgs(
  policy: DemoPolicy,
  dataDir: string,
  outDir: string,
  p: Readonly<PretrainSettings> = PRETRAIN,
): string[] {
  return [
    dataDir,
    "-a",
    p.arch,
    "--base-width",
    String(p.baseWidth),
    "--image-size",
    String(p.imageSize),
    "-b",
    String(p.batchSize),
    "--bn-groups",
    String(p.bnGroups),
    "--moco-k",
    String(p.mocoK),
    "--moco-t",
    String(p.mocoT),
    "--mlp",
    ...(p.cos ? ["--cos"] : []),
    ...(!p.cos && p.milestones.length > 0 ? ["--schedule", p.milestones.join(",")] : []),
    "--lr",
    String(p.lr),
    "--moco-m",
    String(p.mocoM),
    "--epochs",
    String(p.epochs),
    "-p",
    "10",
    "--model",
    policy,
    "--out-dir",
    outDir,
    "--seed",
    String(p.seed),
    // Decoded images kept in memory: results are the same, but each epoch skips the PNG decodes.
    "--cache-mb",
    "512",
  ];
}

/** Sizes of one demo run. */
export interface DemoSizes {
  /** World export: images per class (train / other splits) and objects per group layout. */
  perClass: number;
  testPerClass: number;
  objects: number;
  /** Synthetic invariance: sampled images and views per image (`--k`). */
  numImages: number;
  k: number;
  /**
   * Resize / crop of the evaluated images (the 256/224 ratio at 32 px, the size the built-in
   * models were trained at).
   */
  resize: number;
  cropSize: number;
  /** CV folds of the probes. */
  folds: number;
  /** Every how many wd values of the 45-point probe grid are tried (1 = all, as the original). */
  gridStride: number;
}

/** The full demo and the `--quick` one (used by the tests). */
export const DEMO_SIZES: Record<"full" | "quick", DemoSizes> = {
  full: {
    perClass: 300,
    testPerClass: 50,
    objects: 20,
    numImages: 32,
    k: 16,
    resize: 37,
    cropSize: 32,
    folds: 5,
    gridStride: 1,
  },
  quick: {
    perClass: 30,
    testPerClass: 8,
    objects: 3,
    numImages: 3,
    k: 4,
    resize: 37,
    cropSize: 32,
    folds: 3,
    gridStride: 4,
  },
};
