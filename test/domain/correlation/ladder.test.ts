import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { parseLadder, rungToFire } from '../../../src/domain/correlation/ladder.js';

const DEFAULT = 'eq 2 -> notify; gte 3 -> mention; gte 5 -> respond';

describe('parseLadder', () => {
  it('parses the default ladder into rungs in the seed evaluation order (>=5, >=3, ==2)', () => {
    expect(parseLadder(DEFAULT)).toEqual([
      { label: 'gte 5', op: 'gte', threshold: 5, actions: ['respond'] },
      { label: 'gte 3', op: 'gte', threshold: 3, actions: ['mention'] },
      { label: 'eq 2', op: 'eq', threshold: 2, actions: ['notify'] },
    ]);
  });
  it('accepts several actions per rung and >= / == spellings', () => {
    const rungs = parseLadder('>= 4 -> notify, webhook ; == 1 -> notify', { webhookUrl: 'https://hooks.example/x' });
    expect(rungs.map((r) => [r.label, r.actions])).toEqual([
      ['gte 4', ['notify', 'webhook']],
      ['eq 1', ['notify']],
    ]);
  });
  it('puts eq before gte on the same threshold', () => {
    expect(parseLadder('gte 3 -> notify; eq 3 -> mention').map((r) => r.label)).toEqual(['eq 3', 'gte 3']);
  });
  it('lists every problem naming CORRELATION_LADDER', () => {
    try {
      parseLadder('gt 2 -> notify; gte 3 -> page; gte 4 -> webhook; eq 0 -> notify');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems).toHaveLength(4);
      for (const p of problems) expect(p).toContain('CORRELATION_LADDER');
      expect(problems.join('\n')).toContain('CORRELATION_WEBHOOK_URL');
      expect(problems.join('\n')).toContain('unknown action "page"');
    }
  });
  it('refuses a rung given twice', () => {
    expect(() => parseLadder('gte 3 -> notify; gte 3 -> mention')).toThrow(/twice/);
  });
});

describe('rungToFire', () => {
  const rungs = parseLadder(DEFAULT);
  it('fires nothing at 1, eq 2 at 2, gte 3 at 3, gte 5 at 5', () => {
    expect(rungToFire(1, rungs, [])).toBeUndefined();
    expect(rungToFire(2, rungs, [])?.label).toBe('eq 2');
    expect(rungToFire(3, rungs, ['eq 2'])?.label).toBe('gte 3');
    expect(rungToFire(5, rungs, ['eq 2', 'gte 3'])?.label).toBe('gte 5');
  });
  it('fires each rung once: the first match wins and does not fall through when already fired', () => {
    expect(rungToFire(4, rungs, ['eq 2', 'gte 3'])).toBeUndefined();
    expect(rungToFire(6, rungs, ['eq 2', 'gte 3', 'gte 5'])).toBeUndefined();
  });
});
