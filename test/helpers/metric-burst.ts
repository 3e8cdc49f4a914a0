// Child process for test/integration/store-kill.test.ts: writes training metrics in bursts through a
// MetricsWriter until it is killed, and after every committed batch prints
//   committed <total rows> <highest step whose metrics are all committed>
// to stdout. Stdout to a pipe is synchronous on Linux, so a printed line means the batch was committed
// before the line left the process.
//
// Usage: node --import tsx test/helpers/metric-burst.ts <db path> [rows per batch]
import { openStore } from '../../main/core/store/index.js';

const [dbPath, batchArg] = process.argv.slice(2);
if (!dbPath) {
  process.stderr.write('usage: metric-burst.ts <db path> [rows per batch]\n');
  process.exit(2);
}

const NAMES = ['loss', 'lr', 'grad_norm', 'tokens_per_s'] as const;
const store = openStore(dbPath);
const run = store.runs.create({ name: 'burst', config: { purpose: 'kill test' } });
store.runs.setStatus(run.id, 'running', { backend: 'cpu' });

let step = 0;
const writer = store.metrics.writer({
  maxRows: Number(batchArg ?? 200),
  maxDelayMs: 50,
  // Rows go in step by step, NAMES.length per step, so the committed count says which steps are
  // complete (a flush by age may end a batch in the middle of a step).
  onFlush: ({ committedRows }) =>
    process.stdout.write(`committed ${committedRows} ${Math.floor(committedRows / NAMES.length) - 1}\n`),
});
process.stdout.write(`run ${run.id}\n`);

// Bursts of steps, with a turn of the event loop between them so the kill lands anywhere: inside a
// transaction, between transactions, or while the timer flush is pending.
function burst(): void {
  const steps = 1 + Math.floor(Math.random() * 100);
  for (let i = 0; i < steps; i++, step++) {
    writer.addStep(run.id, step, {
      loss: 3 / (1 + step),
      lr: 2e-4,
      grad_norm: Math.random(),
      tokens_per_s: 1000,
    });
  }
  setImmediate(burst);
}
burst();
