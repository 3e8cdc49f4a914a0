// The micro-batches of a run, in order, epoch after epoch: each epoch's order is a pure function of
// (seed, epoch, example lengths, micro-batch), so a checkpoint's count of micro-batches taken says
// where the stream continues.
//
// When the micro-batch changes mid-run (out of memory → a smaller one), the epoch under way was cut
// with the old size. Its remaining old micro-batches are each cut into pieces of the new size and
// kept in the checkpoint (`Resplit`), so the epoch finishes with exactly the examples it had left:
// none skipped, none repeated. The examples that form an optimizer step do change (a step now takes
// more, smaller micro-batches), so losses after the change are not those of an unchanged run.
// Later epochs use the new size's own order.
import { lengthGroupedBatches } from '../core/data/batching.js';

/** The rest of an epoch begun with another micro-batch: its batches from micro-batch `startsAt` on. */
export interface Resplit {
  epoch: number;
  startsAt: number;
  batches: number[][];
}

export class BatchStream {
  readonly lengths: ArrayLike<number>;
  readonly microBatch: number;
  readonly #seed: number;
  /** No resplit: as if epoch -1 ended at micro-batch 0. */
  readonly resplit: Resplit;
  #epoch = -1;
  #order: number[][] = [];

  constructor(lengths: ArrayLike<number>, microBatch: number, seed: number, resplit?: Resplit) {
    this.lengths = lengths;
    this.microBatch = microBatch;
    this.#seed = seed;
    this.resplit = resplit ?? { epoch: -1, startsAt: 0, batches: [] };
  }

  /** Micro-batches in a whole epoch of this micro-batch size. */
  get perEpoch(): number {
    return Math.ceil(this.lengths.length / this.microBatch);
  }

  get #resplitEnd(): number {
    return this.resplit.startsAt + this.resplit.batches.length;
  }

  /** Example indices of micro-batch number `m` of the run (0-based; m ≥ the resplit's start). */
  batch(m: number): number[] {
    const r = this.resplit;
    if (m < this.#resplitEnd) return r.batches[m - r.startsAt]!;
    const k = m - this.#resplitEnd;
    return this.#epochOrder(r.epoch + 1 + Math.floor(k / this.perEpoch))[k % this.perEpoch]!;
  }

  /** Epochs done after `m` micro-batches (fractional). */
  epochAt(m: number): number {
    const r = this.resplit;
    if (m < this.#resplitEnd) {
      const whole = r.batches.length;
      return r.epoch + 1 - (whole > 0 ? (this.#resplitEnd - m) / whole : 0);
    }
    return r.epoch + 1 + (m - this.#resplitEnd) / this.perEpoch;
  }

  /**
   * The stream that continues at micro-batch `m` with another micro-batch size: the rest of the
   * current epoch re-cut (see the top of this file), later epochs in the new size's order.
   */
  continueWith(m: number, microBatch: number): BatchStream {
    if (microBatch === this.microBatch) return this;
    const r = this.resplit;
    let epoch: number;
    let rest: number[][];
    if (m < this.#resplitEnd) {
      epoch = r.epoch;
      rest = r.batches.slice(m - r.startsAt);
    } else {
      const k = m - this.#resplitEnd;
      epoch = r.epoch + 1 + Math.floor(k / this.perEpoch);
      rest = this.#epochOrder(epoch).slice(k % this.perEpoch);
      // At an epoch boundary nothing is left over: the new size's order starts with the next epoch.
      if (k % this.perEpoch === 0) {
        epoch--;
        rest = [];
      }
    }
    const batches = rest.flatMap((b) => chunks(b, microBatch));
    return new BatchStream(this.lengths, microBatch, this.#seed, { epoch, startsAt: m, batches });
  }

  #epochOrder(epoch: number): number[][] {
    if (epoch !== this.#epoch) {
      this.#order = lengthGroupedBatches(this.lengths, {
        batchSize: this.microBatch,
        seed: (this.#seed + epoch) >>> 0,
      });
      this.#epoch = epoch;
    }
    return this.#order;
  }
}

function chunks(items: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
