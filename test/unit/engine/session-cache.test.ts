// The chat session cache with fake sessions: loaded once per key, one call at a time, reloaded when
// a longer conversation needs more room, freed when idle, when crowded out, and on close.
import { describe, expect, it } from 'vitest';
import type { Session } from '../../../main/core/engine/native.js';
import { SessionCache, type SessionKey } from '../../../main/core/engine/session-cache.js';

function fakes() {
  const loads: { key: SessionKey; maxSeqLen: number }[] = [];
  const disposed: number[] = [];
  const load = async (key: SessionKey, maxSeqLen: number) => {
    const id = loads.push({ key, maxSeqLen });
    return { id, dispose: () => disposed.push(id) } as unknown as Session & { id: number };
  };
  return { loads, disposed, load };
}

const key = (modelDir: string, adapterDir: string | null = null): SessionKey => ({
  modelDir,
  adapterDir,
  seed: 0,
});
const done = <T>(value: T) => ({ result: Promise.resolve(value), settled: Promise.resolve() });
const idOf = (s: Session) => (s as unknown as { id: number }).id;

describe('SessionCache', () => {
  it('loads a session once per model and adapter, and reloads it only when it needs more room', async () => {
    const f = fakes();
    const cache = new SessionCache({ load: f.load });
    const a = await cache.use(key('m'), 100, (s) => done(idOf(s)));
    const b = await cache.use(key('m'), 1500, (s) => done(idOf(s)));
    expect(a).toBe(b);
    expect(f.loads).toHaveLength(1);
    expect(f.loads[0]!.maxSeqLen).toBe(2048);
    const longer = await cache.use(key('m'), 3000, (s) => done(idOf(s)));
    expect(longer).not.toBe(a);
    expect(f.disposed).toEqual([a]);
    expect(f.loads[1]!.maxSeqLen).toBe(3072);
    const adapted = await cache.use(key('m', '/ckpt/adapter'), 100, (s) => done(idOf(s)));
    expect(adapted).not.toBe(longer);
    cache.close();
    expect(f.disposed.sort()).toEqual([1, 2, 3]);
  });

  it('runs one call at a time per session; the next waits until the engine has settled', async () => {
    const f = fakes();
    const cache = new SessionCache({ load: f.load });
    const order: string[] = [];
    let settle!: () => void;
    const first = cache.use(key('m'), 10, () => ({
      // The result is out early (a cancelled reply) while the engine still runs.
      result: Promise.resolve('first'),
      settled: new Promise<void>((r) => {
        settle = () => {
          order.push('engine done');
          r();
        };
      }),
    }));
    const second = cache.use(key('m'), 10, () => {
      order.push('second starts');
      return done('second');
    });
    expect(await first).toBe('first');
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    settle();
    expect(await second).toBe('second');
    expect(order).toEqual(['engine done', 'second starts']);
    cache.close();
  });

  it('frees an idle session after the idle time, and the least recently used one when crowded', async () => {
    const f = fakes();
    const cache = new SessionCache({ load: f.load, idleMs: 30, maxSessions: 2 });
    await cache.use(key('a'), 10, (s) => done(idOf(s)));
    await new Promise((r) => setTimeout(r, 80));
    expect(f.disposed).toEqual([1]);
    expect(cache.loaded).toBe(0);

    const crowded = new SessionCache({ load: f.load, maxSessions: 2 });
    const b = await crowded.use(key('b'), 10, (s) => done(idOf(s)));
    await new Promise((r) => setTimeout(r, 5));
    await crowded.use(key('c'), 10, (s) => done(idOf(s)));
    await crowded.use(key('d'), 10, (s) => done(idOf(s)));
    expect(f.disposed).toContain(b);
    expect(crowded.loaded).toBe(2);
    crowded.close();
    expect(crowded.loaded).toBe(0);
    await expect(crowded.use(key('b'), 10, (s) => done(idOf(s)))).rejects.toThrow(/closed/);
  });

  it('passes a failed load on to the caller and tries again next time', async () => {
    let fail = true;
    const f = fakes();
    const cache = new SessionCache({
      load: (k, n) => (fail ? Promise.reject(new Error('no such model')) : f.load(k, n)),
    });
    await expect(cache.use(key('m'), 10, (s) => done(idOf(s)))).rejects.toThrow(/no such model/);
    fail = false;
    expect(await cache.use(key('m'), 10, (s) => done(idOf(s)))).toBe(1);
    cache.close();
  });
});
