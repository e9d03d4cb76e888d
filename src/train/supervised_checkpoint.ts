/**
 * Checkpoints of supervised classification training, in the layout of PyTorch's ImageNet example
 * (`{'epoch', 'arch', 'state_dict', 'best_acc1', 'optimizer'}`) with a torchvision ResNet's plain
 * state dict (`conv1.weight`, …, `fc.weight`, `fc.bias`), written atomically:
 *
 * - the training checkpoint adds the SGD state and `ssl_supervised_state` (seed, steps, batch
 *   size, base width, class names) so `--resume` continues exactly;
 * - the release checkpoint keeps `epoch`, `arch`, `state_dict`, the class names and the
 *   validation accuracy. `loadModel` reads either one as an encoder: the `arch` field names the
 *   architecture, the stem's width gives the base width, and the `fc` head is dropped.
 *
 * @module
 */
import { PyFloat, type PyInput, type PyKey, type PyValue } from "../io/pickle.ts";
import { loadTorchCheckpoint } from "../io/torch/read.ts";
import type { StateDict } from "../io/torch/tensor.ts";
import { writeTorchCheckpoint } from "../io/torch/write.ts";
import {
  dictFields,
  mocoCheckpointToPy,
  parseMocoCheckpoint,
  type SgdStateDict,
} from "./checkpoint.ts";
import { DataError } from "../util/errors.ts";

/** The extra key of a training checkpoint holding {@link SupervisedTrainState}. */
export const SUPERVISED_STATE_KEY = "ssl_supervised_state";

/** What an exact resume needs beyond the weights and the optimizer. */
export interface SupervisedTrainState {
  /** The run's seed: the epoch orders and every view derive from it. */
  seed: number;
  /** Optimiser steps taken so far. */
  globalStep: number;
  /** Images per step. */
  batchSize: number;
  /** ResNet stem width at w = 1. */
  baseWidth: number;
  /** Class names in label order (the training folder's sub-folders). */
  classes: string[];
}

/** What {@link saveSupervisedCheckpoint} writes. */
export interface SupervisedCheckpointInput {
  /** Epochs completed. */
  epoch: number;
  /** Architecture name (`resnet18`, `resnet50w3`, …). */
  arch: string;
  /** The network's torchvision state dict, `fc.*` included. */
  stateDict: StateDict;
  /** Validation top-1 accuracy in percent of the last finished epoch (NaN: no validation). */
  valAcc1: number;
  /** The SGD state (momentum buffers), training checkpoints only. */
  optimizer?: SgdStateDict;
  /** Resume information, training checkpoints only. */
  trainState?: SupervisedTrainState;
  /** Class names in label order (written into release checkpoints too). */
  classes: readonly string[];
}

/** A supervised checkpoint as read back. */
export interface SupervisedCheckpoint extends SupervisedCheckpointInput {
  /** Present in training checkpoints written by this project. */
  trainState?: SupervisedTrainState;
}

/**
 * Writes a supervised checkpoint atomically (temp file + rename). Without `optimizer` and
 * `trainState` it is the release form.
 */
export async function saveSupervisedCheckpoint(
  path: string,
  input: SupervisedCheckpointInput,
): Promise<void> {
  const value = mocoCheckpointToPy({
    epoch: input.epoch,
    arch: input.arch,
    stateDict: input.stateDict,
    optimizer: input.optimizer,
  });
  // PyTorch's example stores best_acc1 as a tensor or float; a float reads everywhere.
  value.set("best_acc1", new PyFloat(input.valAcc1));
  value.set("classes", [...input.classes]);
  if (input.trainState) value.set(SUPERVISED_STATE_KEY, stateToPy(input.trainState));
  await writeTorchCheckpoint(path, value);
}

function stateToPy(s: SupervisedTrainState): Map<PyKey, PyInput> {
  return new Map<PyKey, PyInput>([
    ["format", 1],
    ["seed", s.seed],
    ["global_step", s.globalStep],
    ["batch_size", s.batchSize],
    ["base_width", s.baseWidth],
    ["classes", [...s.classes]],
  ]);
}

function stateFromPy(value: PyValue, file: string): SupervisedTrainState {
  const f = dictFields(value, (what: string): never => {
    throw new DataError(`${file}: bad ${SUPERVISED_STATE_KEY}: ${what}`);
  });
  return {
    seed: f.int("seed"),
    globalStep: f.int("global_step"),
    batchSize: f.int("batch_size"),
    baseWidth: f.int("base_width"),
    classes: f.strings("classes"),
  };
}

/**
 * Reads a supervised checkpoint (training or release form).
 *
 * @throws DataError naming the file when it is missing, unreadable or lacks a field.
 */
export async function loadSupervisedCheckpoint(path: string): Promise<SupervisedCheckpoint> {
  const { value } = await loadTorchCheckpoint(path);
  const ckpt = parseMocoCheckpoint(value, path);
  // parseMocoCheckpoint has checked that the top level is a dict.
  const top = dictFields(value, (what: string): never => {
    throw new DataError(`${path}: not a supervised checkpoint: ${what}`);
  });
  const acc = top.dict.get("best_acc1");
  const out: SupervisedCheckpoint = {
    epoch: ckpt.epoch,
    arch: ckpt.arch,
    stateDict: ckpt.stateDict,
    optimizer: ckpt.optimizer,
    valAcc1: acc === null || acc === undefined ? NaN : Number(acc),
    classes: top.strings("classes"),
  };
  const state = top.dict.get(SUPERVISED_STATE_KEY);
  if (state !== undefined) out.trainState = stateFromPy(state, path);
  return out;
}
