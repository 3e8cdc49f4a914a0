// A stand-in for renderer/src/lib/api.ts in component tests: answers commands from handlers the
// test sets, records every call, and emits events as main would. Use with
//   vi.mock('../../renderer/src/lib/api', async (load) => ({ ...(await load()), getApi: () => api }));
import type {
  ApiError,
  CommandInput,
  CommandName,
  CommandOutput,
  EventName,
  Events,
} from '../../main/api/contract';
import { type Api, ApiCallError, type ConnectionStatus } from '../../renderer/src/lib/api';

type Handler<N extends CommandName> = (
  input: CommandInput<N>,
) => CommandOutput<N> | Promise<CommandOutput<N>>;

export class FakeApi implements Api {
  readonly transport = 'http' as const;
  readonly calls: { name: CommandName; input: unknown }[] = [];
  readonly #handlers = new Map<CommandName, Handler<CommandName>>();
  readonly #listeners = new Map<string, Set<(payload: unknown) => void>>();

  /** Answer `name` with `handler` (a value, or a function of the input). */
  answer<N extends CommandName>(name: N, handler: Handler<N> | CommandOutput<N>): this {
    const fn = typeof handler === 'function' ? handler : () => handler;
    this.#handlers.set(name, fn as Handler<CommandName>);
    return this;
  }

  /** Make `name` fail as main would, with a message and a hint. */
  fail(name: CommandName, error: ApiError): this {
    this.#handlers.set(name, () => {
      throw new ApiCallError(error);
    });
    return this;
  }

  async call<N extends CommandName>(name: N, input: CommandInput<N>): Promise<CommandOutput<N>> {
    this.calls.push({ name, input });
    const handler = this.#handlers.get(name);
    if (!handler) {
      throw new ApiCallError({ code: 'not-implemented', message: `${name} is not answered in this test.` });
    }
    return (await handler(input as never)) as CommandOutput<N>;
  }

  /** The inputs of every call to `name`, in order. */
  inputs<N extends CommandName>(name: N): CommandInput<N>[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input as CommandInput<N>);
  }

  on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener as (payload: unknown) => void);
    return () => set.delete(listener as (payload: unknown) => void);
  }

  emit<E extends EventName>(name: E, payload: Events[E]): void {
    for (const listener of this.#listeners.get(name) ?? []) listener(payload);
  }

  listenerCount(name: EventName): number {
    return this.#listeners.get(name)?.size ?? 0;
  }

  status(): ConnectionStatus {
    return 'connected';
  }
  onStatus(): () => void {
    return () => {};
  }
  reconnect(): void {}
}
