// PEFT LoRA → llama.cpp GGUF adapter (formats.md §3, §11): general.type "adapter", adapter.type
// "lora", adapter.lora.alpha FLOAT32; `<gguf weight>.lora_a` ne [in, r] and `.lora_b` ne [r, out];
// rows of B for q/k permuted for the llama architecture (§2.4). llama.cpp scales by alpha/r with
// r read per tensor, so rsLoRA (alpha/√r) is folded in as alpha' = alpha·√r.
import {
  f32,
  type GgufKv,
  type GgufTensorToWrite,
  type GgufWriteOptions,
  str,
  type WrittenGguf,
  writeGguf,
} from '../formats/gguf.js';
import type { ModelConfig } from '../models/config.js';
import { ggufAdapterProblem, type PeftAdapter } from './adapter.js';
import { ExportError } from './errors.js';
import { ggufArch, qkHeads } from './gguf-model.js';
import { type ExportDtype, encodeFloats, GGML_OF, permuteQkRows } from './tensor-math.js';

export async function writeAdapterGguf(
  adapter: PeftAdapter,
  config: ModelConfig,
  outFile: string,
  dtype: ExportDtype = 'f32',
  write?: GgufWriteOptions,
): Promise<WrittenGguf> {
  const problem = ggufAdapterProblem(adapter);
  if (problem) {
    throw new ExportError(
      'adapter-unsupported',
      `${adapter.dir} cannot be written as a GGUF adapter: ${problem}.`,
      'Export with --format gguf-merged instead: merging carries every adapter feature.',
    );
  }
  if (dtype !== 'f32' && dtype !== 'f16') {
    throw new ExportError(
      'bad-dtype',
      `A GGUF adapter is written as f32 or f16, not ${dtype}.`,
      'Pass --dtype f32 or --dtype f16.',
    );
  }
  const first = adapter.pairs[0]!;
  const alpha = first.scale * first.r; // llama.cpp: scale = alpha / r
  const kvs: GgufKv[] = [
    { key: 'general.architecture', value: str(ggufArch(config)) },
    { key: 'general.type', value: str('adapter') },
    { key: 'adapter.type', value: str('lora') },
    { key: 'adapter.lora.alpha', value: f32(alpha) },
  ];
  const tensors: GgufTensorToWrite[] = [];
  for (const p of adapter.pairs) {
    tensors.push({
      name: `${p.gguf}.lora_a`,
      type: GGML_OF[dtype],
      ne: [p.in, p.r],
      data: () => encodeFloats(p.A, dtype),
    });
    tensors.push({
      name: `${p.gguf}.lora_b`,
      type: GGML_OF[dtype],
      ne: [p.r, p.out],
      data: () => {
        const heads = qkHeads(config, p.role);
        return encodeFloats(heads === null ? p.B : permuteQkRows(p.B, p.out, p.r, heads), dtype);
      },
    });
  }
  return writeGguf(outFile, kvs, tensors, write);
}
