// The trainer's micro-batch stream: the same order as before for an unchanged micro-batch, and when
// the micro-batch shrinks mid-epoch (out of memory), the rest of the epoch has exactly the examples
// that were left: none skipped, none repeated.
import { describe, expect, it } from 'vitest';
import { lengthGroupedBatches } from '../../../main/core/data/batching.js';
import { BatchStream } from '../../../main/trainer/batch-stream.js';

const lengths = Array.from({ length: 37 }, (_, i) => 10 + ((i * 7919) % 53));
const seed = 42;

/** Examples of micro-batches [from, to) of a stream. */
const take = (s: BatchStream, from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => s.batch(from + k)).flat();

/** The examples, cut into epochs of `lengths.length`: each epoch must be every example once. */
function expectWholeEpochs(examples: number[]): void {
  const n = lengths.length;
  for (let e = 0; e * n < examples.length; e++) {
    const epoch = examples.slice(e * n, (e + 1) * n);
    expect(new Set(epoch).size, `epoch ${e} repeats an example`).toBe(epoch.length);
    if (epoch.length === n) expect([...epoch].sort((a, b) => a - b)).toEqual([...lengths.keys()]);
  }
}

describe('BatchStream', () => {
  it('follows the seeded length-grouped order, epoch after epoch', () => {
    const s = new BatchStream(lengths, 4, seed);
    expect(s.perEpoch).toBe(10);
    expect(s.batch(3)).toEqual(lengthGroupedBatches(lengths, { batchSize: 4, seed })[3]);
    expect(s.batch(12)).toEqual(lengthGroupedBatches(lengths, { batchSize: 4, seed: seed + 1 })[2]);
    expect(s.epochAt(15)).toBe(1.5);
    expect(s.continueWith(7, 4)).toBe(s);
  });

  it('a smaller micro-batch mid-epoch neither skips nor repeats an example', () => {
    const before = new BatchStream(lengths, 4, seed);
    const after = before.continueWith(6, 2);
    const seen = [...take(before, 0, 6), ...take(after, 6, 60)];
    expectWholeEpochs(seen);
    // The rest of the epoch is the old micro-batches cut in two, in the same order.
    expect(after.batch(6)).toEqual(before.batch(6).slice(0, 2));
    expect(after.batch(7)).toEqual(before.batch(6).slice(2));
    // Later epochs use the smaller size's own order.
    const restOfEpoch = after.resplit.batches.length;
    expect(after.batch(6 + restOfEpoch)).toEqual(
      lengthGroupedBatches(lengths, { batchSize: 2, seed: seed + 1 })[0],
    );
    expect(after.epochAt(6 + restOfEpoch)).toBe(1);
  });

  it('two changes in one epoch (4 → 2 → 1) and one in a later epoch keep every epoch whole', () => {
    const a = new BatchStream(lengths, 4, seed);
    const b = a.continueWith(13, 2); // epoch 1, 3 micro-batches in
    const c = b.continueWith(17, 1); // still epoch 1, within the re-cut rest
    const seen = [...take(a, 0, 13), ...take(b, 13, 17), ...take(c, 17, 120)];
    expectWholeEpochs(seen);
    // As a checkpoint stores it: a fresh stream from the resplit continues identically.
    const restored = new BatchStream(lengths, 1, seed, JSON.parse(JSON.stringify(c.resplit)));
    expect(take(restored, 30, 90)).toEqual(take(c, 30, 90));
  });

  it('a change exactly at an epoch boundary starts the new size’s order', () => {
    const a = new BatchStream(lengths, 4, seed);
    const b = a.continueWith(10, 3);
    expect(b.batch(10)).toEqual(lengthGroupedBatches(lengths, { batchSize: 3, seed: seed + 1 })[0]);
    expectWholeEpochs([...take(a, 0, 10), ...take(b, 10, 36)]);
  });

  it('odd sizes: 3 → 1 mid-epoch', () => {
    const a = new BatchStream(lengths, 3, seed);
    const b = a.continueWith(5, 1);
    expectWholeEpochs([...take(a, 0, 5), ...take(b, 5, 100)]);
  });
});
