// Changes made in the data editor and not saved yet. Saving sends them as one `datasets.edit`, which
// makes a new version; the version being edited stays as it was.
import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import type { ChatTurn, DatasetExample } from '../../../main/api/contract';
import { sameMessages } from './simple-example';

export interface EditRequest {
  update?: { ordinal: number; messages: ChatTurn[] }[];
  add?: { messages: ChatTurn[] }[];
  remove?: number[];
}

export class DatasetEdits {
  /** New turns by ordinal, for examples changed in place. */
  readonly updated = new SvelteMap<number, ChatTurn[]>();
  readonly removed = new SvelteSet<number>();
  added = $state<ChatTurn[][]>([]);

  get count(): number {
    return this.updated.size + this.removed.size + this.added.length;
  }

  /** The turns as they are now: changed ones, or as stored. */
  messages(example: DatasetExample): ChatTurn[] {
    return this.updated.get(example.ordinal) ?? example.messages;
  }

  change(example: DatasetExample, messages: ChatTurn[]): void {
    if (sameMessages(messages, example.messages)) this.updated.delete(example.ordinal);
    else this.updated.set(example.ordinal, messages);
  }

  toggleRemoved(ordinal: number): void {
    if (this.removed.has(ordinal)) this.removed.delete(ordinal);
    else this.removed.add(ordinal);
  }

  add(messages: ChatTurn[]): void {
    this.added = [...this.added, messages];
  }

  dropAdded(index: number): void {
    this.added = this.added.filter((_, i) => i !== index);
  }

  toRequest(): EditRequest {
    const request: EditRequest = {};
    const update = [...this.updated]
      .filter(([ordinal]) => !this.removed.has(ordinal))
      .map(([ordinal, messages]) => ({ ordinal, messages }));
    if (update.length) request.update = update;
    if (this.added.length) request.add = this.added.map((messages) => ({ messages }));
    if (this.removed.size) request.remove = [...this.removed].sort((a, b) => a - b);
    return request;
  }

  clear(): void {
    this.updated.clear();
    this.removed.clear();
    this.added = [];
  }
}
