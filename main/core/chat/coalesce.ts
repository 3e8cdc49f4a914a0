// Streamed text pieces merged so that listeners get at most one update per interval: the first piece
// goes out at once, later ones are held and sent together when the interval has passed. flush() sends
// what is held (call it when the stream ends, before announcing the end).

export interface CoalesceClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: CoalesceClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class TextCoalescer {
  readonly #emit: (text: string) => void;
  readonly #intervalMs: number;
  readonly #clock: CoalesceClock;
  #held = '';
  #lastSent = Number.NEGATIVE_INFINITY;
  #timer: unknown = null;

  /** `intervalMs` 50: at most 20 updates a second. */
  constructor(emit: (text: string) => void, intervalMs = 50, clock: CoalesceClock = realClock) {
    this.#emit = emit;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
  }

  push(text: string): void {
    if (text === '') return;
    this.#held += text;
    const wait = this.#lastSent + this.#intervalMs - this.#clock.now();
    if (wait <= 0) this.flush();
    else this.#timer ??= this.#clock.setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#held === '') return;
    const text = this.#held;
    this.#held = '';
    this.#lastSent = this.#clock.now();
    this.#emit(text);
  }
}
