/**
 * A chain of layers run in order, keeping the intermediate activations of its last forward pass
 * so that {@link Sequential.backward} can run the chain in reverse (llm.c style: an explicit
 * tape per container, no general autograd). ResNet uses it for its head (`fc`, or MoCo's
 * `fc.0 → ReLU → fc.2`).
 *
 * @module
 */
import type { Tensor } from "../gpu/tensor.ts";
import type { Parameter } from "./parameter.ts";

/** A layer that can sit in a {@link Sequential}. */
export interface SequentialLayer {
  /** y = f(x); a new tensor the caller owns. */
  forward(x: Tensor): Tensor;
  /** dL/dx from the forward input, output and dL/dy; accumulates parameter gradients. */
  backprop(x: Tensor, y: Tensor, dy: Tensor): Tensor;
  /** Parameters in PyTorch order (none for activations). */
  parameters(): Parameter[];
}

/** Layers applied in order. */
export class Sequential {
  #tape: Tensor[] | undefined;

  constructor(readonly layers: readonly SequentialLayer[]) {}

  /** Every layer's parameters, in order. */
  parameters(): Parameter[] {
    return this.layers.flatMap((l) => l.parameters());
  }

  /**
   * Runs the chain on `x`. With `keep` the intermediate outputs stay for {@link backward}; the
   * caller keeps `x` and the returned output alive until then. An empty chain returns `x`.
   */
  forward(x: Tensor, keep = false): Tensor {
    this.clearTape();
    const acts = [x];
    for (const layer of this.layers) acts.push(layer.forward(acts[acts.length - 1]));
    if (keep) this.#tape = acts;
    else for (let i = 1; i < acts.length - 1; i++) acts[i].release();
    return acts[acts.length - 1];
  }

  /** Back-propagates dL/d(output) through the kept activations; returns dL/dx (new tensor). */
  backward(dy: Tensor): Tensor {
    const acts = this.#tape;
    if (!acts) throw new Error("Sequential.backward() needs a forward(x, true) first");
    this.#tape = undefined;
    let d = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const next = this.layers[i].backprop(acts[i], acts[i + 1], d);
      if (d !== dy) d.release();
      d = next;
    }
    for (let i = 1; i < acts.length - 1; i++) acts[i].release();
    return d;
  }

  /** Frees the kept intermediate activations (not the input nor the output). */
  clearTape(): void {
    const acts = this.#tape;
    this.#tape = undefined;
    if (acts) { for (let i = 1; i < acts.length - 1; i++) acts[i].release(); }
  }
}
