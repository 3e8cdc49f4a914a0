// The run history's filter and sort, kept apart from the table so they read (and test) as plain code.
import type { RunSummary } from '../../../main/api/contract';
import { runSeconds, type StatusFilter, statusKey, statusWords } from './run-status';

export type RunSortKey = 'id' | 'name' | 'status' | 'createdAt' | 'duration' | 'device';
export type SortDirection = 'ascending' | 'descending';

export interface RunFilter {
  status: StatusFilter;
  /** Case-insensitive text in the name, the id, the device or the status words. */
  text: string;
}

export function filterRuns(runs: RunSummary[], filter: RunFilter): RunSummary[] {
  const text = filter.text.trim().toLowerCase();
  return runs.filter((run) => {
    if (filter.status !== 'all' && statusKey(run) !== filter.status) return false;
    if (!text) return true;
    const haystack = [
      run.name,
      `#${run.id}`,
      String(run.id),
      run.device ?? '',
      run.backend ?? '',
      statusWords(run).label,
    ]
      .join(' ')
      .toLowerCase();
    return haystack.includes(text);
  });
}

function sortValue(run: RunSummary, key: RunSortKey, now: number): string | number {
  switch (key) {
    case 'id':
      return run.id;
    case 'name':
      return run.name.toLowerCase();
    case 'status':
      return statusWords(run).label;
    case 'createdAt':
      return run.createdAt;
    case 'duration':
      return runSeconds(run, now) ?? -1;
    case 'device':
      return (run.device ?? run.backend ?? '').toLowerCase();
  }
}

export function sortRuns(
  runs: RunSummary[],
  key: RunSortKey,
  direction: SortDirection,
  now = Date.now(),
): RunSummary[] {
  const sign = direction === 'ascending' ? 1 : -1;
  return [...runs].sort((a, b) => {
    const x = sortValue(a, key, now);
    const y = sortValue(b, key, now);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return order === 0 ? b.id - a.id : sign * order;
  });
}
