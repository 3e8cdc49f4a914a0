// Generations sampled during training, so a person can watch the model learn their style.
import type { Database } from 'better-sqlite3';
import { type Clock, toFlag } from './common.js';

export interface SampleRow {
  id: number;
  runId: number;
  step: number;
  prompt: string;
  output: string;
  /** True when generation ended on a stop token, false when it hit the token limit. */
  stopped: boolean;
  createdAt: number;
}

export interface NewSample {
  runId: number;
  step: number;
  prompt: string;
  output: string;
  stopped: boolean;
}

interface SampleRecord {
  id: number;
  run_id: number;
  step: number;
  prompt: string;
  output: string;
  stopped: 0 | 1;
  created_at: number;
}

const toSample = (r: SampleRecord): SampleRow => ({
  id: r.id,
  runId: r.run_id,
  step: r.step,
  prompt: r.prompt,
  output: r.output,
  stopped: r.stopped === 1,
  createdAt: r.created_at,
});

function prepare(db: Database) {
  return {
    insert: db.prepare<Record<string, unknown>, SampleRecord>(`
      INSERT INTO samples (run_id, step, prompt, output, stopped, created_at)
      VALUES (@runId, @step, @prompt, @output, @stopped, @createdAt)
      RETURNING *`),
    listForRun: db.prepare<{ runId: number; fromStep: number }, SampleRecord>(
      'SELECT * FROM samples WHERE run_id = @runId AND step >= @fromStep ORDER BY step, id',
    ),
  };
}

export class SamplesRepo {
  readonly #sql: ReturnType<typeof prepare>;

  constructor(
    db: Database,
    private readonly now: Clock,
  ) {
    this.#sql = prepare(db);
  }

  add(sample: NewSample): SampleRow {
    const record = this.#sql.insert.get({
      runId: sample.runId,
      step: sample.step,
      prompt: sample.prompt,
      output: sample.output,
      stopped: toFlag(sample.stopped),
      createdAt: this.now(),
    });
    return toSample(record!);
  }

  /** By step, oldest first; `fromStep` skips what a view already shows. */
  listForRun(runId: number, { fromStep = 0 }: { fromStep?: number } = {}): SampleRow[] {
    return this.#sql.listForRun.all({ runId, fromStep }).map(toSample);
  }
}
