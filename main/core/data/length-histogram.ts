// Summary of token lengths for the data step: min, median, 95th percentile, max, how many exceed the
// max length, and equal-width bins for a histogram. Pure: lengths in, numbers out.

export interface LengthBin {
  /** Lengths from `from` (inclusive) to `to` (exclusive; the last bin includes `to`). */
  from: number;
  to: number;
  count: number;
}

export interface LengthSummary {
  count: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  overMaxLen: number;
  bins: LengthBin[];
}

/** The nearest-rank percentile (p in 0..1) of ascending values; 0 for none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

/**
 * `binCount` equal-width bins from 0 up to at least max(maxLen, longest): each bin is a whole number
 * of tokens wide, so the upper end may pass that a little.
 */
export function summarizeLengths(
  lengths: ArrayLike<number>,
  maxLen: number,
  binCount: number,
): LengthSummary {
  if (!Number.isInteger(binCount) || binCount < 1)
    throw new RangeError(`binCount must be ≥ 1, not ${binCount}`);
  const sorted = Float64Array.from(lengths).sort();
  const longest = sorted.length ? sorted[sorted.length - 1]! : 0;
  const width = Math.max(1, Math.ceil(Math.max(maxLen, longest, 1) / binCount));
  const bins: LengthBin[] = Array.from({ length: binCount }, (_, i) => ({
    from: i * width,
    to: (i + 1) * width,
    count: 0,
  }));
  let overMaxLen = 0;
  for (const length of sorted) {
    bins[Math.min(binCount - 1, Math.floor(length / width))]!.count++;
    if (length > maxLen) overMaxLen++;
  }
  return {
    count: sorted.length,
    min: sorted.length ? sorted[0]! : 0,
    median: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    max: longest,
    overMaxLen,
    bins,
  };
}
