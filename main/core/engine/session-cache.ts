// Loaded engine sessions kept between chat turns, so a conversation does not reload the model for
// every message. One session per (model folder, adapter folder, seed, backend); each runs one generation at a
// time, the others wait in line. A session idle for a few minutes is freed, the least recently used
// one is freed when too many are held, and close() frees them all (those busy, once their call ends).
import type { LoadModelOptions, Session } from '../../../native/index.js';
import { readAdapterSpec } from './generate.js';
import { loadNative } from './native.js';

export interface SessionKey {
  modelDir: string;
  /** A PEFT adapter folder, or null for the base model alone. */
  adapterDir: string | null;
  seed: number;
  /** Default: the CPU. */
  backend?: 'cpu' | 'cuda';
}

/** Work on a session: `settled` says when the engine is done with it (see streamReply). */
export interface SessionWork<T> {
  result: Promise<T>;
  settled: Promise<void>;
}

export interface SessionCacheOptions {
  /** Free a session unused this long (default five minutes). */
  idleMs?: number;
  /** Sessions held at most (default 2; a busy one is never freed to make room). */
  maxSessions?: number;
  /** Loads a session (tests count loads); default: the engine with the adapter, NF4 as in training. */
  load?: (key: SessionKey, maxSeqLen: number) => Promise<Session>;
}

interface Entry {
  key: SessionKey;
  session: Session | null;
  maxSeqLen: number;
  /** The end of the line of work waiting for this session. */
  tail: Promise<void>;
  pending: number;
  lastUsed: number;
  idleTimer: NodeJS.Timeout | null;
}

/** Sessions hold room for at least this many tokens, so a growing conversation rarely reloads. */
const MIN_SEQ_LEN = 2048;

export class SessionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #idleMs: number;
  readonly #maxSessions: number;
  readonly #load: (key: SessionKey, maxSeqLen: number) => Promise<Session>;
  #closed = false;

  constructor(options: SessionCacheOptions = {}) {
    this.#idleMs = options.idleMs ?? 5 * 60_000;
    this.#maxSessions = options.maxSessions ?? 2;
    this.#load = options.load ?? loadSession;
  }

  /** How many sessions are loaded now. */
  get loaded(): number {
    return [...this.#entries.values()].filter((e) => e.session !== null).length;
  }

  /**
   * Runs `work` on the session for `key`, loaded with room for `maxSeqLen` tokens, after the work
   * queued before it. Resolves with the work's result; the session stays taken until it settles.
   */
  use<T>(key: SessionKey, maxSeqLen: number, work: (session: Session) => SessionWork<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('The chat sessions are closed.'));
    const entry = this.#entry(key);
    entry.pending++;
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
    return new Promise<T>((resolve, reject) => {
      entry.tail = entry.tail.then(async () => {
        try {
          const session = await this.#ready(entry, maxSeqLen);
          const { result, settled } = work(session);
          result.then(resolve, reject);
          await settled;
        } catch (err) {
          reject(err);
        } finally {
          entry.pending--;
          entry.lastUsed = Date.now();
          this.#afterUse(entry);
        }
      });
    });
  }

  /** Frees every idle session now and every busy one when its work ends; later use() is refused. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) {
      if (entry.idleTimer) clearTimeout(entry.idleTimer);
      if (entry.pending === 0) this.#free(entry);
    }
  }

  #entry(key: SessionKey): Entry {
    const id = JSON.stringify([key.modelDir, key.adapterDir, key.seed, key.backend ?? 'cpu']);
    let entry = this.#entries.get(id);
    if (!entry) {
      entry = {
        key,
        session: null,
        maxSeqLen: 0,
        tail: Promise.resolve(),
        pending: 0,
        lastUsed: Date.now(),
        idleTimer: null,
      };
      this.#entries.set(id, entry);
      this.#makeRoom(entry);
    }
    return entry;
  }

  async #ready(entry: Entry, maxSeqLen: number): Promise<Session> {
    if (entry.session && entry.maxSeqLen >= maxSeqLen) return entry.session;
    if (entry.session) {
      entry.session.dispose();
      entry.session = null;
    }
    const room = Math.max(MIN_SEQ_LEN, Math.ceil(maxSeqLen / 1024) * 1024);
    entry.session = await this.#load(entry.key, room);
    entry.maxSeqLen = room;
    return entry.session;
  }

  /** Frees the least recently used idle sessions while more than the limit are held. */
  #makeRoom(keep: Entry): void {
    const idle = [...this.#entries.values()]
      .filter((e) => e !== keep && e.pending === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    while (this.#entries.size > this.#maxSessions && idle.length > 0) this.#free(idle.shift()!);
  }

  #afterUse(entry: Entry): void {
    if (entry.pending > 0) return;
    if (this.#closed) {
      this.#free(entry);
      return;
    }
    entry.idleTimer = setTimeout(() => {
      if (entry.pending === 0) this.#free(entry);
    }, this.#idleMs);
    entry.idleTimer.unref();
  }

  #free(entry: Entry): void {
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
    entry.session?.dispose();
    entry.session = null;
    for (const [id, e] of this.#entries) if (e === entry) this.#entries.delete(id);
  }
}

/** The engine session for a chat: NF4 base weights as in training, the adapter loaded when given. */
async function loadSession(key: SessionKey, maxSeqLen: number): Promise<Session> {
  const lora: LoadModelOptions['lora'] = key.adapterDir
    ? readAdapterSpec(key.adapterDir)
    : { r: 1, alpha: 1 };
  const session = await loadNative().loadModel({
    modelDir: key.modelDir,
    backend: key.backend ?? 'cpu',
    quant: 'nf4',
    lora,
    maxSeqLen,
    seed: key.seed,
  });
  if (key.adapterDir) {
    try {
      await session.loadAdapter(key.adapterDir);
    } catch (err) {
      session.dispose();
      throw err;
    }
  }
  return session;
}
