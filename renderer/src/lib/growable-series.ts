// A metric over training steps, kept in Float64Arrays that double when full, so a run of 100k steps
// costs a few allocations rather than 100k objects. `view()` hands out subarrays (no copy) for the
// chart. Steps ascend: a step at or before the last one (a resumed run re-trains steps after its
// checkpoint) replaces everything from that step on.
export class GrowableSeries {
  #x: Float64Array;
  #y: Float64Array;
  #length = 0;

  constructor(capacity = 1024) {
    this.#x = new Float64Array(capacity);
    this.#y = new Float64Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  get lastX(): number | undefined {
    return this.#length ? this.#x[this.#length - 1] : undefined;
  }

  get lastY(): number | undefined {
    return this.#length ? this.#y[this.#length - 1] : undefined;
  }

  push(x: number, y: number): void {
    if (this.#length && x <= this.#x[this.#length - 1]!) this.#length = this.#indexOf(x);
    if (this.#length === this.#x.length) this.#grow();
    this.#x[this.#length] = x;
    this.#y[this.#length] = y;
    this.#length++;
  }

  /** Replaces the contents (a reload from `runs.metrics`). */
  reset(points: readonly { step: number; value: number }[] = []): void {
    this.#length = 0;
    for (const p of points) this.push(p.step, p.value);
  }

  view(): { x: Float64Array; y: Float64Array } {
    return { x: this.#x.subarray(0, this.#length), y: this.#y.subarray(0, this.#length) };
  }

  /** First index whose x is ≥ `x` (binary search). */
  #indexOf(x: number): number {
    let lo = 0;
    let hi = this.#length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#x[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #grow(): void {
    const x = new Float64Array(Math.max(16, this.#x.length * 2));
    const y = new Float64Array(x.length);
    x.set(this.#x);
    y.set(this.#y);
    this.#x = x;
    this.#y = y;
  }
}
