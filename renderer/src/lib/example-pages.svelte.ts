// A version's examples, fetched a page at a time as the editor scrolls to them, so 100,000 rows
// cost a few pages of memory. A new query (version, search, only rows with issues) starts afresh;
// answers to an older query are dropped.
import { SvelteMap } from 'svelte/reactivity';
import type { DatasetExample } from '../../../main/api/contract';
import type { Api } from './api';
import { type Problem, problemOf } from './problem';

export interface ExampleQuery {
  versionId: number;
  search: string;
  onlyIssues: boolean;
}

/** Pages kept around the one last loaded; farther ones are fetched again when needed. */
const KEEP_PAGES = 40;

export class ExamplePages {
  /** Examples matching the query; null until the first page arrives. */
  total = $state<number | null>(null);
  error = $state<Problem | null>(null);
  readonly pageSize: number;
  readonly #pages = new SvelteMap<number, DatasetExample[]>();
  readonly #pending = new Set<number>();
  readonly #api: Api;
  #query: ExampleQuery | null = null;
  #generation = 0;

  constructor(api: Api, pageSize = 100) {
    this.#api = api;
    this.pageSize = pageSize;
  }

  get loading(): boolean {
    return this.total === null && this.error === null;
  }

  setQuery(query: ExampleQuery): void {
    const q = this.#query;
    if (
      q &&
      q.versionId === query.versionId &&
      q.search === query.search &&
      q.onlyIssues === query.onlyIssues
    )
      return;
    this.#query = query;
    this.reload();
  }

  /** Forget every page and fetch the first again (after a save, or to retry). */
  reload(): void {
    this.#generation++;
    this.#pages.clear();
    this.#pending.clear();
    this.total = null;
    this.error = null;
    void this.#load(0);
  }

  at(index: number): DatasetExample | undefined {
    return this.#pages.get(Math.floor(index / this.pageSize))?.[index % this.pageSize];
  }

  /** Fetch the pages that hold rows start..end-1 (end exclusive). */
  ensure(start: number, end: number): void {
    if (this.total === null || end <= start) return;
    const last = Math.min(end, this.total) - 1;
    for (let page = Math.floor(start / this.pageSize); page <= Math.floor(last / this.pageSize); page++) {
      void this.#load(page);
    }
  }

  async #load(page: number): Promise<void> {
    const query = this.#query;
    if (!query || this.#pages.has(page) || this.#pending.has(page)) return;
    const generation = this.#generation;
    this.#pending.add(page);
    try {
      const result = await this.#api.call('datasets.examples', {
        versionId: query.versionId,
        offset: page * this.pageSize,
        limit: this.pageSize,
        ...(query.search ? { search: query.search } : {}),
        ...(query.onlyIssues ? { onlyIssues: true } : {}),
      });
      if (generation !== this.#generation) return;
      this.#pages.set(page, result.examples);
      this.total = result.total;
      this.#evictAround(page);
    } catch (err) {
      if (generation === this.#generation) this.error = problemOf(err);
    } finally {
      if (generation === this.#generation) this.#pending.delete(page);
    }
  }

  #evictAround(page: number): void {
    if (this.#pages.size <= KEEP_PAGES) return;
    const farthest = [...this.#pages.keys()].sort((a, b) => Math.abs(b - page) - Math.abs(a - page));
    for (const p of farthest.slice(0, this.#pages.size - KEEP_PAGES)) this.#pages.delete(p);
  }
}
