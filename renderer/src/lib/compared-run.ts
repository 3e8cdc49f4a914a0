// A run as the compare page holds it: its details and its metric series.
import type { MetricSeriesPoint, RunDetailsInfo } from '../../../main/api/contract';

export interface ComparedRun {
  details: RunDetailsInfo;
  metrics: Record<string, MetricSeriesPoint[]>;
}

export function lastValue(points: MetricSeriesPoint[] | undefined): number | null {
  return points?.at(-1)?.value ?? null;
}

export function lowestValue(points: MetricSeriesPoint[] | undefined): number | null {
  if (!points || points.length === 0) return null;
  return points.reduce((low, p) => Math.min(low, p.value), Number.POSITIVE_INFINITY);
}

/** A run's short name in legends and column heads. */
export function runLabel(details: RunDetailsInfo): string {
  return `#${details.run.id} ${details.run.name}`;
}
