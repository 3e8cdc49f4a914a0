// The Advanced panel's settings must be exactly main's settings, with main's limits: a value the
// panel accepts must be one `runs.plan` accepts, and the reverse.
import { describe, expect, it } from 'vitest';
import { hyperparametersSchema } from '../../main/core/runs/config';
import {
  checkSetting,
  editsFromOverrides,
  LORA_TARGETS,
  overridesFromEdits,
  SETTINGS,
  SETTINGS_BY_KEY,
} from '../../renderer/src/lib/hyper-settings';
import { definitionRows } from '../../renderer/src/lib/run-settings';
import { definition } from './fixtures';

const shape = hyperparametersSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;

function candidates(key: string): string[] {
  const kind = SETTINGS_BY_KEY.get(key)!.kind;
  if (kind.type !== 'int' && kind.type !== 'number') return [];
  const values = [kind.min, kind.min - 1, kind.min + 0.5, kind.min - 1e-9, kind.min + 1e-9];
  if (kind.max < Number.MAX_SAFE_INTEGER)
    values.push(kind.max, kind.max + 1, kind.max + 1e-6, kind.max - 0.5);
  return values.map(String);
}

describe('the Advanced panel settings', () => {
  it('are every setting main has, and no other', () => {
    expect(SETTINGS.map((s) => s.key).sort()).toEqual(Object.keys(shape).sort());
    for (const s of SETTINGS) {
      expect(s.help.length, s.key).toBeGreaterThan(20);
      expect(s.help.length, s.key).toBeLessThan(140);
    }
  });

  it('accept and refuse numbers exactly where main does', () => {
    for (const { key } of SETTINGS) {
      for (const raw of candidates(key)) {
        const panel = checkSetting(SETTINGS_BY_KEY.get(key)!, raw).ok;
        expect(panel, `${key}=${raw}`).toBe(shape[key]!.safeParse(Number(raw)).success);
      }
    }
  });

  it('offer main’s choices', () => {
    for (const { key, kind } of SETTINGS) {
      if (kind.type === 'choice') {
        for (const o of kind.options) expect(shape[key]!.safeParse(o.value).success, key).toBe(true);
        expect(shape[key]!.safeParse('other').success).toBe(false);
      }
      if (kind.type === 'bool') expect(shape[key]!.safeParse(true).success).toBe(true);
    }
    expect(shape.loraTargets!.safeParse([...LORA_TARGETS]).success).toBe(true);
  });

  it('say what to type when a value is wrong', () => {
    const lr = SETTINGS_BY_KEY.get('lr')!;
    expect(checkSetting(lr, 'fast')).toEqual({
      ok: false,
      error: 'Enter a number above 0, up to 1 (like 0.5 or 2e-4).',
    });
    expect(checkSetting(lr, '2e-4')).toEqual({ ok: true });
    expect(checkSetting(SETTINGS_BY_KEY.get('loraR')!, '8.5').ok).toBe(false);
    expect(checkSetting(SETTINGS_BY_KEY.get('maxSteps')!, '').ok).toBe(true);
    expect(checkSetting(SETTINGS_BY_KEY.get('microBatch')!, '').ok).toBe(false);
    expect(checkSetting(SETTINGS_BY_KEY.get('loraTargets')!, 'q_proj,wrong')).toEqual({
      ok: false,
      error: 'There is no part called “wrong”.',
    });
  });

  it('round-trip through the wizard’s saved overrides', () => {
    const edits = editsFromOverrides(['lr=1e-4', 'maxSteps=none', 'loraTargets=q_proj,v_proj']);
    expect(edits).toEqual({ lr: '1e-4', maxSteps: 'none', loraTargets: 'q_proj,v_proj' });
    expect(overridesFromEdits({ ...edits, epochs: '' })).toEqual([
      'lr=1e-4',
      'maxSteps=none',
      'loraTargets=q_proj,v_proj',
      'epochs=none',
    ]);
  });
});

describe('a run’s settings list', () => {
  it('names each setting as the Advanced panel does, with choices in words', () => {
    const rows = definitionRows(definition({}, { schedule: 'cosine', gradientCheckpointing: true }));
    const row = (key: string) => rows.find((r) => r.key === `hyper.${key}`)!;
    expect(row('lr').label).toBe(SETTINGS_BY_KEY.get('lr')!.label);
    expect(row('lr').help).toBe(SETTINGS_BY_KEY.get('lr')!.help);
    expect(row('schedule').value).toBe('Slow down smoothly (cosine)');
    expect(row('gradientCheckpointing').value).toBe('yes');
  });
});
