// In-process bus for pushed events: services emit, every transport forwards to its clients.
import type { EventName, Events } from './contract.js';

export type EventListener = <E extends EventName>(name: E, payload: Events[E]) => void;

export class EventBus {
  readonly #listeners = new Set<EventListener>();

  emit<E extends EventName>(name: E, payload: Events[E]): void {
    for (const listener of this.#listeners) {
      try {
        listener(name, payload);
      } catch {
        // A broken client must not stop the others from receiving events.
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
