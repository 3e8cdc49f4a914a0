import { describe, expect, it } from 'vitest';
import { chooseHost } from '../../main/cli/commands/serve.js';

function io() {
  const err: string[] = [];
  return { io: { out: () => {}, err: (t: string) => err.push(t) }, err };
}

describe('serve host choice', () => {
  it('defaults to 127.0.0.1 silently', () => {
    const { io: sink, err } = io();
    expect(chooseHost(undefined, undefined, sink)).toBe('127.0.0.1');
    expect(err).toEqual([]);
  });

  it('accepts loopback addresses from anywhere', () => {
    const { io: sink, err } = io();
    expect(chooseHost(undefined, '127.0.0.2', sink)).toBe('127.0.0.2');
    expect(chooseHost('::1', undefined, sink)).toBe('::1');
    expect(chooseHost('localhost', undefined, sink)).toBe('localhost');
    expect(err).toEqual([]);
  });

  it('refuses a non-loopback address from the environment alone', () => {
    const { io: sink } = io();
    expect(() => chooseHost(undefined, '0.0.0.0', sink)).toThrow(/--host explicitly/);
    expect(() => chooseHost(undefined, 'my-gpu-box', sink)).toThrow(/--host explicitly/);
  });

  it('binds a non-loopback address given with --host, and warns', () => {
    const { io: sink, err } = io();
    expect(chooseHost('0.0.0.0', undefined, sink)).toBe('0.0.0.0');
    expect(err.join('')).toMatch(/reachable from other machines/);
  });
});
