// Where a run's export goes when the person does not choose: <home>/exports/run-<id>-<format>, then
// -2, -3 … when that folder is taken (on disk, or by an export still being written).
import path from 'node:path';

export function defaultExportDir(
  exportsDir: string,
  runId: number,
  format: string,
  taken: (dir: string) => boolean,
): string {
  const base = path.join(exportsDir, `run-${runId}-${format}`);
  if (!taken(base)) return base;
  for (let n = 2; ; n++) {
    const dir = `${base}-${n}`;
    if (!taken(dir)) return dir;
  }
}
