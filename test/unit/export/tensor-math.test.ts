// The numeric pieces of export against hand examples and the reference formulas of formats.md.
import { describe, expect, it } from 'vitest';
import {
  encodeFloats,
  mergeLora,
  permuteQkRows,
  quantizeQ8_0,
  storageDtype,
} from '../../../main/core/export/tensor-math.js';
import { halfToFloat } from '../../../main/core/formats/safetensors.js';

describe('Q/K row permutation (formats.md §2.3)', () => {
  it('makes the rotate-half partners j and j + D/2 adjacent, per head', () => {
    // 2 heads of D = 4 rows, 1 column: rows are numbered by their value.
    expect([...permuteQkRows(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 8, 1, 2)]).toEqual([
      0, 2, 1, 3, 4, 6, 5, 7,
    ]);
    // One head of D = 6: (0,3) (1,4) (2,5) become pairs.
    expect([...permuteQkRows(Float32Array.from([0, 1, 2, 3, 4, 5]), 6, 1, 1)]).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('moves whole rows of a matrix', () => {
    const m = Float32Array.from([10, 11, 20, 21, 30, 31, 40, 41]); // 4 rows × 2 cols, one head
    expect([...permuteQkRows(m, 4, 2, 1)]).toEqual([10, 11, 30, 31, 20, 21, 40, 41]);
  });

  it('refuses heads of odd size', () => {
    expect(() => permuteQkRows(new Float32Array(6), 6, 1, 2)).toThrow(/even size/);
  });
});

describe('Q8_0 (formats.md §1.3)', () => {
  // The reference: d = max|x|/127 (stored f16), q = round-half-away-from-zero(x/d).
  const reference = (x: number[]) => {
    const amax = Math.max(...x.map(Math.abs));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    return { d, q: x.map((v) => Math.sign(v) * Math.round(Math.abs(Math.fround(v * id)))) };
  };

  it('matches the reference formula block by block', () => {
    const values = Array.from({ length: 96 }, (_, i) => (i < 32 ? 0 : Math.sin(i * 12.9898) * (i % 7)));
    const bytes = quantizeQ8_0(Float32Array.from(values));
    expect(bytes.length).toBe(3 * 34);
    const view = new DataView(bytes.buffer);
    for (let b = 0; b < 3; b++) {
      const ref = reference(values.slice(b * 32, b * 32 + 32));
      expect(halfToFloat(view.getUint16(b * 34, true))).toBeCloseTo(ref.d, 3);
      const q = Array.from({ length: 32 }, (_, i) => view.getInt8(b * 34 + 2 + i));
      expect(q).toEqual(ref.q.map((v) => v + 0)); // +0: -0 and 0 compare equal
    }
  });

  it('rounds halves away from zero, and the largest value maps to ±127', () => {
    const x = new Float32Array(32);
    x[0] = 127;
    x[1] = -2.5;
    x[2] = 2.5;
    x[3] = -127;
    const view = new DataView(quantizeQ8_0(x).buffer);
    expect(halfToFloat(view.getUint16(0, true))).toBe(1);
    expect([0, 1, 2, 3].map((i) => view.getInt8(2 + i))).toEqual([127, -3, 3, -127]);
  });

  it('keeps norms and vectors F32 and falls back to F16 for rows not a multiple of 32', () => {
    expect(storageDtype('q8_0', [64], 'blk.0.attn_q.bias')).toBe('f32');
    expect(storageDtype('f16', [64, 64], 'blk.0.attn_norm.weight')).toBe('f32');
    expect(storageDtype('q8_0', [64, 48], 'blk.0.ffn_up.weight')).toBe('f16');
    expect(storageDtype('q8_0', [64, 64], 'blk.0.ffn_up.weight')).toBe('q8_0');
    expect([...new Uint16Array(encodeFloats(Float32Array.from([1, -2]), 'bf16').buffer)]).toEqual([
      0x3f80, 0xc000,
    ]);
  });
});

describe('LoRA merge', () => {
  it('adds scale · B · A to W', () => {
    const W = Float32Array.from([1, 0, 0, 1]); // 2×2
    const A = Float32Array.from([1, 2]); // r = 1, in = 2
    const B = Float32Array.from([3, 4]); // out = 2, r = 1
    mergeLora(W, A, B, 2, 2, 1, 0.5);
    expect([...W]).toEqual([1 + 1.5, 3, 2, 1 + 4]);
  });
});
