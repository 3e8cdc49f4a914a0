// Progress of a download as snapshots: where it is, how fast, how long to go. At most one snapshot
// per 100 ms reaches the listener (≤ 10 per second), plus the last one. Speed is measured over the
// last few seconds so a stall shows as a falling speed, not an average over the whole download.

export interface ProgressSnapshot {
  repoId: string;
  /** The file being fetched. */
  file: string;
  fileBytesDone: number;
  fileBytesTotal: number;
  /** All planned files together (files finished in an earlier attempt count as done). */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second over the last seconds; 0 before there is a measurement. */
  speed: number;
  /** null while the speed is unknown. */
  etaSeconds: number | null;
  done: boolean;
}

const MIN_INTERVAL_MS = 100;
const WINDOW_MS = 5_000;

export class ProgressTracker {
  #file = '';
  #fileDone = 0;
  #fileTotal = 0;
  #done: number;
  #lastEmit = 0;
  readonly #samples: { at: number; bytes: number }[] = [];
  #received = 0;

  constructor(
    private readonly repoId: string,
    private readonly total: number,
    alreadyDone: number,
    private readonly listener?: (snapshot: ProgressSnapshot) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.#done = alreadyDone;
  }

  startFile(file: string, size: number, offset: number): void {
    this.#file = file;
    this.#fileTotal = size;
    this.#fileDone = offset;
    this.#emit(false);
  }

  add(bytes: number): void {
    this.#fileDone += bytes;
    this.#done += bytes;
    this.#received += bytes;
    const at = this.now();
    this.#samples.push({ at, bytes: this.#received });
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > WINDOW_MS) this.#samples.shift();
    this.#emit(false);
  }

  /** A file failed its check and is fetched again: its bytes no longer count as done. */
  rewind(fileBytes: number): void {
    this.#done = Math.max(0, this.#done - fileBytes);
    this.#fileDone = 0;
  }

  finish(): void {
    this.#done = this.total;
    this.#emit(true);
  }

  snapshot(done = false): ProgressSnapshot {
    const speed = this.#speed();
    const left = this.total - this.#done;
    return {
      repoId: this.repoId,
      file: this.#file,
      fileBytesDone: this.#fileDone,
      fileBytesTotal: this.#fileTotal,
      bytesDone: this.#done,
      bytesTotal: this.total,
      speed,
      etaSeconds: done ? 0 : speed > 0 ? Math.ceil(left / speed) : null,
      done,
    };
  }

  #speed(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.at - first.at < 200) return 0;
    return Math.round(((last.bytes - first.bytes) * 1000) / (last.at - first.at));
  }

  #emit(force: boolean): void {
    if (!this.listener) return;
    const at = this.now();
    if (!force && at - this.#lastEmit < MIN_INTERVAL_MS) return;
    this.#lastEmit = at;
    this.listener(this.snapshot(force));
  }
}

export function formatGb(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(0, Math.round(bytes / 1e3))} kB`;
}
