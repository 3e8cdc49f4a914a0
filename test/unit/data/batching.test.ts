// Batching and padding: labels come from the trained flags by position; padding never changes them,
// even when the pad id is the end-of-turn id (the bug Tunesmith exists to rule out).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX, lengthGroupedBatches, padBatch } from '../../../main/core/data/batching.js';
import { readTokenFile, TokenFileWriter } from '../../../main/core/data/token-file.js';
import { tempDir } from '../../helpers/cli.js';

const EOS = 2;

/** Two examples whose replies end with EOS (trained), written as a token file. */
function sampleFile() {
  const file = path.join(tempDir(), 'b.tokens');
  const writer = new TokenFileWriter(file, {
    dataset: 'x',
    tokenizerHash: 'y',
    template: 'mistral',
    maxLen: 16,
    tooLong: 'report',
  });
  writer.add(0, Int32Array.from([1, 10, 11, 12, 20, EOS]), Uint8Array.from([0, 0, 0, 0, 1, 1]));
  writer.add(1, Int32Array.from([1, 13, 21, 22, EOS]), Uint8Array.from([0, 0, 1, 1, 1]));
  writer.finish();
  return readTokenFile(file);
}

describe('padBatch', () => {
  it('pads with the pad id by position; a pad id equal to EOS leaves every trained EOS label in place', () => {
    const batch = padBatch(sampleFile(), [0, 1], { padId: EOS });
    expect(batch.seqLen).toBe(6);
    expect([...batch.inputIds]).toEqual([1, 10, 11, 12, 20, EOS, 1, 13, 21, 22, EOS, EOS]);
    expect([...batch.labels]).toEqual([
      IGNORE_INDEX,
      IGNORE_INDEX,
      IGNORE_INDEX,
      IGNORE_INDEX,
      20,
      EOS,
      IGNORE_INDEX,
      IGNORE_INDEX,
      21,
      22,
      EOS,
      IGNORE_INDEX,
    ]);
    expect([...batch.attentionMask]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
  });

  it('labels do not depend on the pad id', () => {
    const file = sampleFile();
    const labels = [0, EOS, 1, 99].map((padId) => [...padBatch(file, [1, 0], { padId, seqLen: 9 }).labels]);
    for (const l of labels) expect(l).toEqual(labels[0]);
  });
});

describe('lengthGroupedBatches', () => {
  const lengths = Array.from({ length: 200 }, (_, i) => 1 + ((i * 37) % 101));

  it('puts every example in exactly one batch', () => {
    const batches = lengthGroupedBatches(lengths, { batchSize: 8, seed: 1 });
    expect(batches.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    expect(batches.every((b) => b.length <= 8)).toBe(true);
  });

  it('the same seed gives the same order; another seed another', () => {
    const a = lengthGroupedBatches(lengths, { batchSize: 8, seed: 1 });
    expect(lengthGroupedBatches(lengths, { batchSize: 8, seed: 1 })).toEqual(a);
    expect(lengthGroupedBatches(lengths, { batchSize: 8, seed: 2 })).not.toEqual(a);
  });

  it('pads far less than random batches', () => {
    const padding = (batches: number[][]) =>
      batches.reduce((sum, b) => {
        const longest = Math.max(...b.map((i) => lengths[i]!));
        return sum + b.reduce((s, i) => s + longest - lengths[i]!, 0);
      }, 0);
    const grouped = padding(lengthGroupedBatches(lengths, { batchSize: 8, seed: 3 }));
    const random = padding(lengthGroupedBatches(lengths, { batchSize: 8, seed: 3, groupFactor: 1 }));
    expect(grouped).toBeLessThan(random / 4);
  });
});
