// The Export step's state: the chosen format and options, the progress lines main sends while it
// writes and verifies, and the result (files, checks, the Ollama command) or what went wrong.
import type { ExportDetails, ExportFormatName } from '../../../main/api/contract';
import type { Api } from './api';
import { type Problem, problemOf } from './problem';

export type Dtype = 'f32' | 'f16' | 'bf16' | 'q8_0';

const OLLAMA_NAME = /^[a-z0-9][a-z0-9._-]*$/;

export class ExportJob {
  format = $state<ExportFormatName>('ollama');
  checkpoint = $state<number | 'best' | 'last'>('best');
  verify = $state(true);
  /** Ollama model name; empty lets Tunesmith choose. */
  name = $state('');
  dtype = $state<Dtype | ''>('');
  force = $state(false);
  running = $state(false);
  progress = $state<string[]>([]);
  result = $state.raw<ExportDetails | null>(null);
  error = $state.raw<Problem | null>(null);

  readonly #api: Api;
  readonly #runId: number;

  constructor(api: Api, runId: number) {
    this.#api = api;
    this.#runId = runId;
  }

  get nameError(): string | null {
    if (this.format !== 'ollama' || this.name === '' || OLLAMA_NAME.test(this.name)) return null;
    return 'Use lowercase letters, digits, “.”, “_” and “-”, starting with a letter or digit.';
  }

  async start(): Promise<void> {
    if (this.running || this.nameError) return;
    this.running = true;
    this.progress = [];
    this.result = null;
    this.error = null;
    const stop = this.#api.on('exports.progress', (event) => {
      if (event.runId === this.#runId) this.progress.push(event.message);
    });
    try {
      const result = await this.#api.call('exports.create', {
        runId: this.#runId,
        checkpoint: this.checkpoint,
        format: this.format,
        verify: this.verify,
        force: this.force,
        ...(this.dtype ? { dtype: this.dtype } : {}),
        ...(this.format === 'ollama' && this.name ? { name: this.name } : {}),
      });
      this.result = result;
      if (result.error) this.error = problemOf(result.error);
    } catch (err) {
      this.error = problemOf(err);
    } finally {
      stop();
      this.running = false;
    }
  }
}
