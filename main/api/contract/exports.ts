// exports: turn a run's checkpoint into files people run elsewhere (Ollama, llama.cpp, PEFT), verify
// them in llama.cpp, and trace every export back to its data (`exports.get` → lineage).
// `exports.list` lives in library.ts with the other lists. Progress is pushed as `exports.progress`.
import { z } from 'zod';
import { command } from './define.js';
import type { ExportSummary } from './library.js';

/** An Ollama model name: lowercase letters, digits, ".", "_" and "-", optionally ":tag". */
export const OLLAMA_MODEL_NAME = /^[a-z0-9][a-z0-9._-]*(:[a-z0-9][a-z0-9._-]*)?$/;

export type ExportFormatName = 'ollama' | 'gguf-adapter' | 'gguf-base' | 'gguf-merged' | 'hf-merged' | 'peft';

export interface ExportCheck {
  name: string;
  passed: boolean;
  /** One line with the numbers, e.g. "max |Δp| 2.1e-7 (tolerance 1e-4), same top token". */
  detail: string;
}

export interface ExportDetails {
  export: ExportSummary;
  format: ExportFormatName;
  files: { path: string; bytes: number }[];
  notes: string[];
  verification: { passed: boolean; checks: ExportCheck[] } | null;
  /** Ollama exports: the command that makes the model, to run in the export folder. */
  ollamaCommand: string | null;
  /** Ollama exports: the model name in that command (what `exports.ollamaCreate` is given). */
  ollamaName: string | null;
  /**
   * Whether `ollama` is on this computer's PATH (checked when the details are built), so
   * `exports.ollamaCreate` can make the model here. Always false for other formats.
   */
  ollamaAvailable: boolean;
  error: { code?: string; message: string; hint?: string } | null;
  lineage: {
    dataset: { id: number; name: string; versionId: number; version: number } | null;
    run: { id: number; name: string; status: string };
    checkpoint: { id: number; step: number; evalLoss: number | null } | null;
    modelDir: string;
    template: string;
  };
}

export interface OllamaCreateResult {
  ok: true;
  name: string;
  /** Everything `ollama create` printed, one line each. */
  output: string;
}

export interface ExportProgressEvent {
  exportId: number;
  runId: number;
  /** A plain-language line, e.g. "Writing the adapter GGUF" or "Checking in llama.cpp". */
  message: string;
  /** Set once the export has ended. */
  done?: { status: 'completed' | 'failed' };
}

export const exportDetailCommands = {
  /**
   * Export a checkpoint. Resolves when the files are written (and verified, with `verify`); the
   * export row exists from the start, so `exports.list` shows it as running.
   */
  'exports.create': command<ExportDetails>()(
    z
      .object({
        runId: z.number().int().min(1),
        checkpoint: z.union([z.number().int().min(1), z.enum(['best', 'last'])]).default('best'),
        format: z.enum(['ollama', 'gguf-adapter', 'gguf-base', 'gguf-merged', 'hf-merged', 'peft']),
        dtype: z.enum(['f32', 'f16', 'bf16', 'q8_0']).optional(),
        /** Default: <home>/exports/run-<id>-<format>[-<n>]. */
        outDir: z.string().min(1).optional(),
        /** Ollama model name in the README and the command. */
        name: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"')
          .optional(),
        verify: z.boolean().default(true),
        force: z.boolean().default(false),
      })
      .strict(),
  ),
  'exports.get': command<ExportDetails>()(z.object({ exportId: z.number().int().min(1) }).strict()),
  /**
   * Run `ollama create NAME -f Modelfile` in a finished Ollama export's folder (when
   * `ollamaAvailable`). Ollama's lines arrive as `exports.progress` (without `done`); fails with a
   * hint when Ollama is missing, its server is not running, or it refuses the Modelfile.
   */
  'exports.ollamaCreate': command<OllamaCreateResult>()(
    z
      .object({
        exportId: z.number().int().min(1),
        name: z
          .string()
          .max(200)
          .regex(OLLAMA_MODEL_NAME, 'lowercase letters, digits, ".", "_" and "-", optionally ":tag"'),
      })
      .strict(),
  ),
};

export interface ExportEvents {
  'exports.progress': ExportProgressEvent;
}
