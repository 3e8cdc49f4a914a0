// Which rows of a long list are in view: a list of fixed-height rows keeps only these (plus a few
// either side, so fast scrolling shows no gaps) in the DOM.
export interface VisibleRange {
  /** First index rendered. */
  start: number;
  /** One past the last index rendered. */
  end: number;
}

export function visibleRange(options: {
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  count: number;
  overscan?: number;
}): VisibleRange {
  const { scrollTop, viewportHeight, rowHeight, count, overscan = 4 } = options;
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + viewportHeight) / rowHeight);
  const start = Math.min(count - 1, Math.max(0, first - overscan));
  const end = Math.min(count, last + overscan);
  return { start, end: Math.max(start, end) };
}
