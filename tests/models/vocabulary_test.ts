import { FUSE_MODES, parseFuseMode } from "../../src/models/combine.ts";
import { FEATURE_LAYERS, isFeatureLayer, parseFeatureLayer } from "../../src/models/resnet.ts";
import { FEATURE_LAYER_FLAG, FUSE_MODE_FLAG } from "../../src/eval/cli_common.ts";
import { UsageError } from "../../src/util/errors.ts";
import { nameFlag } from "../../src/util/main.ts";
import { assert } from "../util/assert.ts";

Deno.test("parseFeatureLayer() accepts the one list of layers and names the flag otherwise", () => {
  assert(FEATURE_LAYERS.join() === "backbone,layer1,layer2,layer3,layer4", "the list");
  for (const layer of FEATURE_LAYERS) assert(parseFeatureLayer(layer) === layer, layer);
  assert(!isFeatureLayer("layer5") && isFeatureLayer("layer2"), "isFeatureLayer");
  try {
    parseFeatureLayer("fc");
    assert(false, "fc accepted");
  } catch (error) {
    assert(
      error instanceof UsageError &&
        /--feature-layer must be one of backbone, layer1, .*got 'fc'/.test(error.message),
      String(error),
    );
  }
});

Deno.test("the eval CLIs' --feature-layer and --fuse-mode choices are the models' lists", () => {
  assert(FEATURE_LAYER_FLAG.choices === FEATURE_LAYERS, "feature layers");
  assert(FUSE_MODE_FLAG.choices === FUSE_MODES, "fuse modes");
  for (const mode of FUSE_MODES) assert(parseFuseMode(mode) === mode, mode);
  // The library names the option; the scripts' runMain restates it as the flag.
  let error: unknown;
  try {
    parseFuseMode("max");
  } catch (e) {
    error = e;
  }
  assert(
    error instanceof UsageError &&
      error.message === "fuseMode: must be one of cat, add, mean, got 'max'",
    String(error),
  );
  assert(
    (nameFlag(error, "--fuse-mode", "fuseMode") as Error).message ===
      "--fuse-mode: must be one of cat, add, mean, got 'max'",
    "restated",
  );
});
