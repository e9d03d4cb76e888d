/**
 * A pool of Deno Workers that decode image files (sharp / our BMP and Netpbm readers, via
 * decode.ts) and optionally run the standard evaluation transform `Resize(r) → CenterCrop(c) →
 * ToTensor → Normalize` off the main thread, so the GPU is fed while the main thread records
 * kernels. Results come back as transferred buffers (no copy).
 *
 * The same module is the worker's entry point: inside a worker it answers decode requests.
 *
 * @module
 */
import { centerCrop } from "./crop.ts";
import { loadImage } from "./decode.ts";
import type { RgbImage } from "./image.ts";
import { resizeShortSide } from "./resize.ts";
import { toNormalizedTensor } from "./to_tensor.ts";
import { DataError } from "../util/errors.ts";

/** What a worker should do after decoding. */
export interface DecodeOptions {
  /** torchvision `Resize(resize)` (short side) before the crop. */
  resize?: number;
  /** `CenterCrop(crop)`. */
  crop?: number;
  /** Return ImageNet-normalised float32 HWC values instead of the uint8 image. */
  normalize?: boolean;
}

/** A decoded (and possibly preprocessed) image. */
export interface DecodedImage {
  image: RgbImage;
  /** Present when `normalize` was asked: [H, W, 3] float32. */
  tensor?: Float32Array;
}

interface Request {
  id: number;
  path: string;
  options: DecodeOptions;
}

type Reply =
  | { id: number; ok: true; width: number; height: number; data: Uint8Array; tensor?: Float32Array }
  | { id: number; ok: false; message: string; data?: boolean };

/** Decodes and preprocesses one file (the work a pool worker does). */
export async function decodeAndPreprocess(
  path: string,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  let image = await loadImage(path);
  if (options.resize !== undefined) image = resizeShortSide(image, options.resize);
  if (options.crop !== undefined) image = centerCrop(image, options.crop);
  const tensor = options.normalize ? toNormalizedTensor(image, { layout: "HWC" }) : undefined;
  return { image, tensor };
}

/** Decodes files on `size` worker threads; requests are spread round-robin by queue length. */
export class DecodePool {
  #workers: Worker[] = [];
  #load: number[] = [];
  #pending = new Map<
    number,
    { resolve: (d: DecodedImage) => void; reject: (e: Error) => void; worker: number }
  >();
  #next = 0;
  #closed = false;

  /** Starts `size` workers (default: the number of logical CPUs). */
  constructor(size: number = navigator.hardwareConcurrency || 2) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`decode pool size must be a positive integer, got ${size}`);
    }
    for (let w = 0; w < size; w++) {
      const worker = new Worker(import.meta.url, { type: "module", name: `decode-${w}` });
      worker.onmessage = (e: MessageEvent<Reply>) => this.#settle(e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#failWorker(w, new Error(`decode worker ${w} failed: ${e.message}`));
      };
      this.#workers.push(worker);
      this.#load.push(0);
    }
  }

  /** Number of workers. */
  get size(): number {
    return this.#workers.length;
  }

  /**
   * Decodes `path` on the least busy worker. Rejects with a DataError naming the file when it is
   * not a readable image (as loadImage does).
   */
  decode(path: string, options: DecodeOptions = {}): Promise<DecodedImage> {
    if (this.#closed) return Promise.reject(new Error("decode pool is closed"));
    let w = 0;
    for (let i = 1; i < this.#load.length; i++) if (this.#load[i] < this.#load[w]) w = i;
    const id = this.#next++;
    this.#load[w]++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker: w });
      this.#workers[w].postMessage({ id, path, options } satisfies Request);
    });
  }

  /** Stops the workers; pending requests are rejected. */
  close(): void {
    this.#closed = true;
    for (const w of this.#workers) w.terminate();
    for (const [, p] of this.#pending) p.reject(new Error("decode pool closed"));
    this.#pending.clear();
  }

  #settle(reply: Reply): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    this.#load[p.worker]--;
    if (reply.ok) {
      p.resolve({
        image: { width: reply.width, height: reply.height, data: reply.data },
        tensor: reply.tensor,
      });
    } else {
      p.reject(reply.data ? new DataError(reply.message) : new Error(reply.message));
    }
  }

  #failWorker(w: number, error: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.worker === w) {
        this.#pending.delete(id);
        p.reject(error);
      }
    }
  }
}

// Worker side: this module is also each worker's entry point.
const scope = globalThis as unknown as {
  WorkerGlobalScope?: unknown;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage: (message: Reply, transfer: Transferable[]) => void;
};
if (typeof scope.WorkerGlobalScope !== "undefined") {
  scope.onmessage = async (e: MessageEvent<Request>) => {
    const { id, path, options } = e.data;
    try {
      const { image, tensor } = await decodeAndPreprocess(path, options);
      // Transfer only a buffer the image owns whole (sharp may hand out views of a pooled slab).
      const d = image.data;
      const data = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? d : d.slice();
      const transfer: Transferable[] = [data.buffer as ArrayBuffer];
      if (tensor) transfer.push(tensor.buffer as ArrayBuffer);
      scope.postMessage({
        id,
        ok: true,
        width: image.width,
        height: image.height,
        data,
        tensor,
      }, transfer);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      scope.postMessage({ id, ok: false, message, data: error instanceof DataError }, []);
    }
  };
}
