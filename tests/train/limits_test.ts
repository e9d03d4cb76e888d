import { checkTrainingFits, plannedBuffers, splitArch } from "../../src/train/limits.ts";
import { UsageError } from "../../src/util/errors.ts";
import { assert } from "../util/assert.ts";

const LLVMPIPE = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 2 ** 31 - 1 };

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    assert(e instanceof UsageError, `not a UsageError: ${e}`);
    return (e as Error).message;
  }
  return "";
}

Deno.test("plannedBuffers() sizes ResNet activations, the MLP weight and the queue by hand", () => {
  const b = plannedBuffers({
    arch: "resnet50",
    batch: 32,
    imageSize: 224,
    dim: 128,
    queueSize: 65536,
    mlp: true,
  });
  const get = (name: string) => b.find((x) => x.name === name)!;
  // Hand-computed: 32·112·112·64·4 bytes; layer4 7×7×2048; fc.0 2048²; queue 128·65536.
  assert(get("stem conv output").bytes === 32 * 112 * 112 * 64 * 4, "stem");
  assert(get("layer4 output").shape.join() === "32,7,7,2048", "layer4 shape");
  assert(get("MLP fc.0 weight").bytes === 2048 * 2048 * 4, "mlp");
  assert(get("queue [dim, K]").bytes === 128 * 65536 * 4, "queue");
  assert(b[0].bytes >= b[b.length - 1].bytes, "largest first");
  const r18 = plannedBuffers({
    arch: "resnet18w3",
    batch: 2,
    imageSize: 32,
    dim: 8,
    queueSize: 8,
    mlp: false,
  });
  assert(
    r18.find((x) => x.name === "layer4 output")!.shape.join() === "2,1,1,1536",
    "basic block w3",
  );
  assert(splitArch("resnet50w3").width === 3 && splitArch("resnet18").width === 1, "width");
});

Deno.test("checkTrainingFits() names the buffer that exceeds the adapter's binding limit", () => {
  const base = { arch: "resnet50", imageSize: 224, dim: 128, queueSize: 65536, mlp: true };
  assert(refusal(() => checkTrainingFits({ ...base, batch: 32 }, LLVMPIPE)) === "", "b32 fits");
  const big = refusal(() => checkTrainingFits({ ...base, batch: 256 }, LLVMPIPE));
  assert(
    /resnet50 at batch 256, 224×224 .*stem conv output \[256,112,112,64\] needs 784\.0 MiB, .*at most 128\.0 MiB per buffer \(maxStorageBufferBindingSize\)/
      .test(big),
    big,
  );
  // ResNet-50w3's 6144×6144 MLP weight alone is 144 MiB.
  const w3 = refusal(() =>
    checkTrainingFits({ ...base, arch: "resnet50w3", dim: 384, batch: 2 }, LLVMPIPE)
  );
  assert(/MLP fc\.0 weight \[6144,6144\] needs 144\.0 MiB/.test(w3), w3);
  assert(/use a smaller batch or imageSize$/.test(big), big);
  const named = refusal(() =>
    checkTrainingFits({ ...base, batch: 256 }, LLVMPIPE, (o) => o === "batch" ? "-b" : `--${o}`)
  );
  assert(/use a smaller -b or --imageSize$/.test(named), named);
  assert(refusal(() => splitArch("vgg16")).startsWith("arch: 'vgg16'"), "bad arch");
});
