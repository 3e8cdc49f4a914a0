import { describe, expect, it } from 'vitest';
import { dispatch, type Handlers, toApiError } from '../../main/api/dispatch.js';

const handlers = {
  'system.doctor': () => {
    throw Object.assign(new Error('The database is damaged.'), {
      code: 'corrupt',
      hint: 'Restore a backup.',
    });
  },
  'models.list': () => [],
  'datasets.list': () => [],
  'runs.list': ({ limit }: { limit: number }) => [{ limit }],
  'exports.list': () => {
    throw new TypeError('undefined is not a function');
  },
} as unknown as Handlers;

describe('dispatch', () => {
  it('applies input defaults before calling the handler', async () => {
    expect(await dispatch(handlers, 'runs.list', undefined)).toEqual({ ok: true, value: [{ limit: 50 }] });
    expect(await dispatch(handlers, 'runs.list', { limit: 3 })).toEqual({ ok: true, value: [{ limit: 3 }] });
  });

  it('rejects unknown fields and out-of-range values with the field name', async () => {
    const extra = await dispatch(handlers, 'runs.list', { limit: 3, colour: 'red' });
    expect(extra.ok).toBe(false);
    const range = await dispatch(handlers, 'runs.list', { limit: 0 });
    expect(range).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(!range.ok && range.error.message).toMatch(/limit/);
  });

  it('does not treat inherited object keys as command names', async () => {
    expect(await dispatch(handlers, 'toString', {})).toMatchObject({
      ok: false,
      error: { code: 'unknown-command' },
    });
    expect(await dispatch(handlers, '__proto__', {})).toMatchObject({
      ok: false,
      error: { code: 'unknown-command' },
    });
  });

  it('passes a service error through as data, code and hint included', async () => {
    expect(await dispatch(handlers, 'system.doctor', {})).toEqual({
      ok: false,
      error: { code: 'corrupt', message: 'The database is damaged.', hint: 'Restore a backup.' },
    });
  });

  it('marks an unexpected exception as internal, with a hint', async () => {
    const result = await dispatch(handlers, 'exports.list', {});
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'internal', message: 'undefined is not a function' },
    });
    expect(!result.ok && result.error.hint).toMatch(/bug/);
  });

  it('turns a thrown non-error into a message', () => {
    expect(toApiError('boom')).toMatchObject({ code: 'internal', message: 'boom' });
  });
});
