// Micro-batches for the trainer: examples of similar length together (less padding), in an order
// that a seed fixes. And padding that never touches labels by token id: padding positions get the
// ignore label because of where they are, so a pad id equal to the end-of-turn id changes nothing
// (the bug of formats.md §9.4 cannot happen here).
import { exampleLength, type TokenFile } from './token-file.js';

/** The label PyTorch's cross-entropy ignores; used for untrained and padding positions. */
export const IGNORE_INDEX = -100;

export interface BatchingOptions {
  batchSize: number;
  seed: number;
  /** Examples sorted together: batchSize × this many (HF's LengthGroupedSampler uses 50). */
  groupFactor?: number;
}

/** A seeded generator (mulberry32): the same seed gives the same order everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * Batches of example indices: shuffle, cut into groups of batchSize × groupFactor, sort each group
 * by length (longest first), cut into batches, then shuffle the batches. Every index appears once.
 */
export function lengthGroupedBatches(lengths: ArrayLike<number>, options: BatchingOptions): number[][] {
  const { batchSize, seed, groupFactor = 50 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be at least 1, not ${batchSize}`);
  const random = seededRandom(seed);
  const order = shuffle(
    Array.from({ length: lengths.length }, (_, i) => i),
    random,
  );
  const groupSize = batchSize * Math.max(1, groupFactor);
  const batches: number[][] = [];
  for (let g = 0; g < order.length; g += groupSize) {
    const group = order.slice(g, g + groupSize).sort((a, b) => lengths[b]! - lengths[a]!);
    for (let b = 0; b < group.length; b += batchSize) batches.push(group.slice(b, b + batchSize));
  }
  return shuffle(batches, random);
}

export interface PaddedBatch {
  batch: number;
  seqLen: number;
  /** [batch × seqLen] row-major. */
  inputIds: Int32Array;
  /** Labels aligned with inputIds (the model shifts them): the token where trained, else IGNORE_INDEX. */
  labels: Int32Array;
  attentionMask: Uint8Array;
}

/** Right-pads the examples `indices` of `file` to the longest of them (or `seqLen`). */
export function padBatch(
  file: TokenFile,
  indices: readonly number[],
  options: { padId: number; seqLen?: number },
): PaddedBatch {
  const longest = Math.max(0, ...indices.map((i) => exampleLength(file, i)));
  const seqLen = options.seqLen ?? longest;
  if (seqLen < longest)
    throw new RangeError(`seqLen ${seqLen} is shorter than the longest example (${longest})`);
  const inputIds = new Int32Array(indices.length * seqLen).fill(options.padId);
  const labels = new Int32Array(indices.length * seqLen).fill(IGNORE_INDEX);
  const attentionMask = new Uint8Array(indices.length * seqLen);
  indices.forEach((example, row) => {
    const from = file.offsets[example]!;
    const length = exampleLength(file, example);
    const at = row * seqLen;
    inputIds.set(file.tokens.subarray(from, from + length), at);
    attentionMask.fill(1, at, at + length);
    for (let t = 0; t < length; t++) {
      if (file.trained[from + t] === 1) labels[at + t] = file.tokens[from + t]!;
    }
  });
  return { batch: indices.length, seqLen, inputIds, labels, attentionMask };
}
