// The answer to the newest of a series of calls, for views that ask again as their input changes
// (the preview of the example picked now, the lengths for the max length set now): the same input
// is not asked twice, and an older answer that arrives late is dropped.
import { type Problem, problemOf } from './problem';

export class LatestCall<Input, Output> {
  value = $state.raw<Output | null>(null);
  error = $state.raw<Problem | null>(null);
  loading = $state(false);
  readonly #call: (input: Input) => Promise<Output>;
  #asked = '';
  #request = 0;

  constructor(call: (input: Input) => Promise<Output>) {
    this.#call = call;
  }

  ask(input: Input): void {
    const key = JSON.stringify(input);
    if (key === this.#asked) return;
    this.#asked = key;
    const mine = ++this.#request;
    this.loading = true;
    this.#call(input).then(
      (value) => this.#settle(mine, value, null),
      (err: unknown) => this.#settle(mine, null, problemOf(err)),
    );
  }

  #settle(request: number, value: Output | null, error: Problem | null): void {
    if (request !== this.#request) return;
    this.value = value;
    this.error = error;
    this.loading = false;
  }
}
