// The trainer's line to its parent: Node IPC when forked, Electron's parentPort in a utility process.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  connectToParent,
  PARENT_PORT_FLUSH_MS,
  type TrainerProcessLike,
} from '../../../main/trainer/channel.js';

class FakeParentPort extends EventEmitter {
  readonly posted: unknown[] = [];
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
}

class FakeForkedProcess extends EventEmitter {
  connected = true;
  readonly sent: unknown[] = [];
  send = (message: unknown, _handle: undefined, _options: object, callback: () => void): boolean => {
    this.sent.push(message);
    setImmediate(callback);
    return true;
  };
}

describe('trainer channel', () => {
  it('uses parentPort in a utility process: messages arrive as { data } and go out by postMessage', async () => {
    const port = new FakeParentPort();
    const forked = new FakeForkedProcess();
    // A utility process has parentPort; it wins over anything else.
    const channel = connectToParent(Object.assign(forked, { parentPort: port }) as TrainerProcessLike);
    expect(channel.kind).toBe('parent-port');
    const received: unknown[] = [];
    channel.onMessage((m) => received.push(m));
    port.emit('message', { data: { type: 'pause' } });
    expect(received).toEqual([{ type: 'pause' }]);
    await channel.send({ type: 'completed', step: 12 });
    expect(port.posted).toEqual([{ type: 'completed', step: 12 }]);
    expect(forked.sent).toEqual([]);
  });

  it('gives a posted last message time to leave before the process exits', async () => {
    const channel = connectToParent({ parentPort: new FakeParentPort(), on: () => undefined });
    const started = performance.now();
    await channel.flush();
    expect(performance.now() - started).toBeGreaterThanOrEqual(PARENT_PORT_FLUSH_MS - 5);
  });

  it('uses process.send when forked, resolving once each message is written, and hears the parent go', async () => {
    const forked = new FakeForkedProcess();
    const channel = connectToParent(forked as TrainerProcessLike);
    expect(channel.kind).toBe('ipc');
    const received: unknown[] = [];
    channel.onMessage((m) => received.push(m));
    forked.emit('message', { type: 'cancel' });
    expect(received).toEqual([{ type: 'cancel' }]);
    await channel.send({ type: 'cancelled', step: 3 });
    expect(forked.sent).toEqual([{ type: 'cancelled', step: 3 }]);
    let gone = false;
    channel.onParentGone(() => {
      gone = true;
    });
    forked.emit('disconnect');
    expect(gone).toBe(true);
  });

  it('drops messages quietly once the IPC channel is closed', async () => {
    const forked = new FakeForkedProcess();
    forked.connected = false;
    const channel = connectToParent(forked as TrainerProcessLike);
    await channel.send({ type: 'completed', step: 1 });
    expect(forked.sent).toEqual([]);
  });

  it('runs without any parent (started by hand) and sends nowhere', async () => {
    const channel = connectToParent({ on: () => undefined });
    expect(channel.kind).toBe('none');
    await expect(channel.send({ type: 'completed', step: 1 })).resolves.toBeUndefined();
  });
});
