// Shared state for the shell: the connection to main and the doctor report, as one class with
// runes, handed out through context (setSystemState / useSystemState).
import { getContext, setContext } from 'svelte';
import type { DoctorReport } from '../../../main/api/contract';
import type { Api, ConnectionStatus } from './api';
import { type Problem, problemOf } from './problem';

export class SystemState {
  status = $state<ConnectionStatus>('connecting');
  report = $state<DoctorReport | null>(null);
  error = $state<Problem | null>(null);
  loading = $state(false);
  readonly #api: Api;

  constructor(api: Api) {
    this.#api = api;
    this.status = api.status();
    api.onStatus((status) => {
      const wasConnected = this.status === 'connected';
      this.status = status;
      if (status === 'connected' && !wasConnected) void this.refresh();
    });
  }

  get transport() {
    return this.#api.transport;
  }

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.report = await this.#api.call('system.doctor', {});
      this.error = null;
      if (this.#api.transport === 'ipc') this.status = 'connected';
    } catch (err) {
      this.error = problemOf(err);
    } finally {
      this.loading = false;
    }
  }

  reconnect(): void {
    this.#api.reconnect();
    void this.refresh();
  }
}

const KEY = Symbol('system-state');

export function setSystemState(state: SystemState): SystemState {
  return setContext(KEY, state);
}

export function useSystemState(): SystemState {
  const state = getContext<SystemState | undefined>(KEY);
  if (!state) throw new Error('useSystemState() called outside <App>');
  return state;
}
