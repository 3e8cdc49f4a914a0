// How much batching buys for per-step metrics: rows/s through the MetricsWriter (one transaction per
// batch) against one autocommit INSERT per row, on a temp-file database in WAL mode, as the app runs.
// The two alternate after a warm-up so that disk and CPU drift hit both alike; medians are reported.
//
// Run: npx tsx test/bench/store.bench.ts [--batched-rows N] [--per-row-rows N] [--reps N]
// Last line: store metrics: batched <rows/s> rows/s, per-row <rows/s> rows/s, ratio <x>
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore, type Store } from '../../main/core/store/index.js';

const { values } = parseArgs({
  options: {
    'batched-rows': { type: 'string', default: '200000' },
    'per-row-rows': { type: 'string', default: '5000' },
    reps: { type: 'string', default: '5' },
    'batch-size': { type: 'string', default: '500' },
  },
});
const BATCHED_ROWS = Number(values['batched-rows']);
const PER_ROW_ROWS = Number(values['per-row-rows']);
const REPS = Number(values.reps);
const BATCH_SIZE = Number(values['batch-size']);
const NAMES = ['loss', 'lr', 'grad_norm', 'tokens_per_s'];

const dir = mkdtempSync(join(tmpdir(), 'tunesmith-bench-'));
let store: Store | undefined;
try {
  store = openStore(join(dir, 'tunesmith.db'));
  const s = store;
  const newRun = () => s.runs.create({ name: 'bench', config: {} }).id;

  // Rows per second for `rows` metric points, NAMES.length per step, as a trainer would write them.
  const batched = (rows: number): number => {
    const runId = newRun();
    const writer = s.metrics.writer({ maxRows: BATCH_SIZE, maxDelayMs: 60_000 });
    const start = process.hrtime.bigint();
    for (let i = 0; i < rows; i++) {
      writer.add({
        runId,
        step: Math.floor(i / NAMES.length),
        name: NAMES[i % NAMES.length]!,
        value: i * 1e-3,
      });
    }
    writer.close();
    return rows / seconds(start);
  };
  const perRow = (rows: number): number => {
    const runId = newRun();
    const start = process.hrtime.bigint();
    for (let i = 0; i < rows; i++) {
      s.metrics.insert({
        runId,
        step: Math.floor(i / NAMES.length),
        name: NAMES[i % NAMES.length]!,
        value: i * 1e-3,
      });
    }
    return rows / seconds(start);
  };

  batched(Math.min(BATCHED_ROWS, 20_000)); // warm-up: statements, page cache, JIT
  perRow(Math.min(PER_ROW_ROWS, 1_000));
  const batchedRates: number[] = [];
  const perRowRates: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    batchedRates.push(batched(BATCHED_ROWS));
    perRowRates.push(perRow(PER_ROW_ROWS));
    console.log(
      `rep ${rep + 1}/${REPS}: batched ${Math.round(batchedRates.at(-1)!)} rows/s (${BATCHED_ROWS} rows, ` +
        `batches of ${BATCH_SIZE}), per-row ${Math.round(perRowRates.at(-1)!)} rows/s (${PER_ROW_ROWS} rows)`,
    );
  }
  const b = median(batchedRates);
  const p = median(perRowRates);
  console.log(
    `store metrics: batched ${Math.round(b)} rows/s, per-row ${Math.round(p)} rows/s, ratio ${(b / p).toFixed(1)}`,
  );
} finally {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
