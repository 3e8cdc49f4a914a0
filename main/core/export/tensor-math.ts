// The numeric pieces of export: the llama-arch Q/K row permutation (formats.md §2.3), LoRA merging,
// and float32 → F16/BF16/Q8_0 storage (§1.3). Matrices are row-major float32, [rows, cols].

import { GgmlType } from '../formats/gguf.js';
import { floatToBf16, floatToHalf } from '../formats/safetensors.js';

/**
 * HF rotate-half → llama.cpp interleaved: within each head of D rows, row j goes to 2j and row
 * j + D/2 goes to 2j + 1 (§2.3). Applied to q/k weights and biases (nHeads = heads of that
 * projection: n_kv_heads for k) and to LoRA B of q/k (§2.4). `cols` = 1 for a bias.
 */
export function permuteQkRows(data: Float32Array, rows: number, cols: number, nHeads: number): Float32Array {
  if (rows % nHeads !== 0 || (rows / nHeads) % 2 !== 0) {
    throw new Error(`cannot permute ${rows} rows into ${nHeads} heads of even size`);
  }
  const D = rows / nHeads;
  const half = D / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * D + s * half + j) * cols;
        const to = (h * D + 2 * j + s) * cols;
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/** W[out, in] += scale · B[out, r] · A[r, in], in place. */
export function mergeLora(
  W: Float32Array,
  A: Float32Array,
  B: Float32Array,
  out: number,
  inDim: number,
  r: number,
  scale: number,
): void {
  const row = new Float64Array(inDim);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const b = B[o * r + k]! * scale;
      if (b === 0) continue;
      const a = k * inDim;
      for (let i = 0; i < inDim; i++) row[i]! += b * A[a + i]!;
    }
    const w = o * inDim;
    for (let i = 0; i < inDim; i++) W[w + i] = W[w + i]! + row[i]!;
  }
}

export type ExportDtype = 'f32' | 'f16' | 'bf16' | 'q8_0';
export const EXPORT_DTYPES: readonly ExportDtype[] = ['f32', 'f16', 'bf16', 'q8_0'];

export const GGML_OF: Record<ExportDtype, GgmlType> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  bf16: GgmlType.BF16,
  q8_0: GgmlType.Q8_0,
};

/**
 * Q8_0 (§1.3, bit-exact with gguf-py): per block of 32, d = max|x|/127, q = round-half-away(x/d),
 * stored as f16 d then 32 int8. `data.length` must be a multiple of 32 (rows of a multiple of 32).
 */
export function quantizeQ8_0(data: Float32Array): Uint8Array {
  if (data.length % 32 !== 0) throw new Error(`Q8_0 needs a multiple of 32 values, got ${data.length}`);
  const blocks = data.length / 32;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(data[b * 32 + i]!));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    view.setUint16(b * 34, floatToHalf(d), true);
    for (let i = 0; i < 32; i++) {
      const x = Math.fround(data[b * 32 + i]! * id);
      const q = Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
      view.setInt8(b * 34 + 2 + i, q);
    }
  }
  return out;
}

/** float32 values stored as `dtype` (little-endian bytes). */
export function encodeFloats(data: Float32Array, dtype: ExportDtype): Uint8Array {
  if (dtype === 'q8_0') return quantizeQ8_0(data);
  if (dtype === 'f32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint16Array(data.length);
  const convert = dtype === 'f16' ? floatToHalf : floatToBf16;
  for (let i = 0; i < data.length; i++) out[i] = convert(data[i]!);
  return new Uint8Array(out.buffer);
}

/** The dtype one tensor is stored in: 1-D tensors and norms stay F32 (the converter's rule, §2.2);
 *  Q8_0 falls back to F16 for rows that are not a multiple of 32 (§3.4). */
export function storageDtype(requested: ExportDtype, shape: readonly number[], name: string): ExportDtype {
  if (shape.length <= 1 || name.endsWith('_norm.weight')) return 'f32';
  if (requested === 'q8_0' && shape.at(-1)! % 32 !== 0) return 'f16';
  return requested;
}
