import { describe, expect, it } from 'vitest';
import { duplicateExternalIds, judgeCommands, judgeLedger, killPlan, takeoverFigures, weeklyHuntsRepeated, type LedgerEntry, type StoredSighting } from '../../reliability/postgres-crash-checks.js';
import { renderReport, upsertSuiteSection } from '../../reliability/report.js';
import type { SuiteReport } from '../../reliability/support.js';

describe('killPlan', () => {
  it('has the asked number of each kind, leader kills spread over the run', () => {
    const plan = killPlan(20, 10);
    expect(plan).toHaveLength(30);
    expect(plan.filter((k) => k === 'leader')).toHaveLength(10);
    // Spread: a leader kill in each third of the run.
    for (let third = 0; third < 3; third++) expect(plan.slice(third * 10, third * 10 + 10)).toContain('leader');
  });

  it('handles no leader kills and only leader kills', () => {
    expect(killPlan(3, 0)).toEqual(['either', 'either', 'either']);
    expect(killPlan(0, 2)).toEqual(['leader', 'leader']);
  });
});

describe('judgeLedger', () => {
  const entry = (host: string, acked: boolean, unanswered = 0): LedgerEntry => ({ host, acked, unanswered });
  const ok: StoredSighting = { applied: true, counted: 1 };

  it('passes a run where every 202 is stored and counted once', () => {
    const ledger = new Map([
      ['a', entry('h1', true)],
      ['b', entry('h1', true)],
      ['c', entry('h2', false, 1)],
    ]);
    // c got no answer but was committed: allowed (counted within acked + unanswered).
    const stored = new Map([
      ['a', ok],
      ['b', ok],
      ['c', ok],
    ]);
    const v = judgeLedger(ledger, stored, new Map([['h1', 2], ['h2', 1]]));
    expect(v).toMatchObject({ acked: 2, lost: [], unapplied: [], countedTwice: [], unknownStored: [], hostsUnder: [], hostsOver: [] });
  });

  it('names an acked id with no row, one never applied, and one counted twice', () => {
    const ledger = new Map([
      ['lost', entry('h1', true)],
      ['stuck', entry('h1', true)],
      ['twice', entry('h1', true)],
    ]);
    const stored = new Map<string, StoredSighting>([
      ['stuck', { applied: false, counted: 0 }],
      ['twice', { applied: true, counted: 2 }],
      ['ghost', ok],
    ]);
    const v = judgeLedger(ledger, stored, new Map([['h1', 2]]));
    expect(v.lost).toEqual(['lost']);
    expect(v.unapplied).toEqual(['stuck']);
    expect(v.countedTwice).toEqual(['twice']);
    expect(v.unknownStored).toEqual(['ghost']);
    expect(v.hostsUnder).toEqual(['h1: counted 2 < acked 3']);
  });

  it('flags a target counted more than its 202s and unanswered sightings', () => {
    const ledger = new Map([['a', entry('h1', true)]]);
    const v = judgeLedger(ledger, new Map([['a', ok]]), new Map([['h1', 3], ['h9', 1]]));
    expect(v.hostsOver).toEqual(['h1: counted 3 > acked 1 + unanswered 0', 'h9: counted 1 > acked 0 + unanswered 0']);
  });
});

describe('weeklyHuntsRepeated', () => {
  const hunt = (id: string, trigger: string, week: string | null, source = 'roundup', status = 'finished') => ({ id, trigger, week, source, status });

  it('counts schedule and missed-run hunts per week and source, not commands', () => {
    expect(weeklyHuntsRepeated([hunt('1', 'missed', '2026-11-27'), hunt('2', 'command', '2026-11-27'), hunt('3', 'missed', '2026-11-27', 'iocs-repo')])).toEqual([]);
    expect(weeklyHuntsRepeated([hunt('1', 'missed', '2026-11-27'), hunt('2', 'schedule', '2026-11-27', 'roundup', 'running')])).toEqual(['roundup 2026-11-27 ×2']);
  });

  it('ignores "not published yet" attempts (a retry later in the day is expected)', () => {
    expect(weeklyHuntsRepeated([hunt('1', 'missed', '2026-11-27', 'roundup', 'not_published'), hunt('2', 'schedule', '2026-11-27')])).toEqual([]);
  });
});

describe('duplicateExternalIds / takeoverFigures', () => {
  it('finds entities made twice for one external id, within a prefix', () => {
    const entities = [{ external_ids: ['sightline-incident-1'] }, { external_ids: ['sightline-incident-1', 'other'] }, { external_ids: ['sightline-incident-2'] }, {}];
    expect(duplicateExternalIds(entities, 'sightline-incident-')).toEqual(['sightline-incident-1×2']);
    expect(duplicateExternalIds(entities, 'zzz')).toEqual([]);
  });

  it('reports median, max and the leader kills nobody took over after', () => {
    expect(takeoverFigures([4000, 6000, undefined, 5000])).toEqual({ count: 3, medianMs: 5000, maxMs: 6000, missed: 1 });
    expect(takeoverFigures([])).toEqual({ count: 0, medianMs: 0, maxMs: 0, missed: 0 });
  });
});

describe('judgeCommands', () => {
  it('counts each command answered once, answered twice, and excuses a missing answer only when a kill followed within the grace', () => {
    const commands = [
      { id: 'once', sentAt: 1_000 },
      { id: 'twice', sentAt: 2_000 },
      { id: 'killed-soon-after', sentAt: 3_000 },
      { id: 'killed-long-after', sentAt: 4_000 },
      { id: 'killed-before', sentAt: 20_000 },
    ];
    const replies = new Map([
      ['once', 1],
      ['twice', 2],
    ]);
    // Kills at 3.5 s (0.5 s after a command) and 19 s (before the last one, 15 s after the fourth).
    expect(judgeCommands(commands, replies, [3_500, 19_000], 10_000)).toEqual({
      sent: 5,
      answeredOnce: 1,
      answeredTwice: ['twice'],
      unansweredAwayFromKills: ['killed-long-after', 'killed-before'],
      lostToKills: 1,
      lostMsBeforeKill: [500],
    });
  });
});

describe('upsertSuiteSection (a new suite run alone)', () => {
  const suite = (title: string, figure: string): SuiteReport => ({ title, tried: 't', figures: { figure }, checks: [{ name: 'ok', ok: true }], findings: [], durationMs: 1 });
  const doc = renderReport([suite('1. One', 'a'), suite('7. Last', 'z')], { startedAt: new Date(0), command: 'x', notes: [] });

  it('appends the section the first time, then replaces it', () => {
    const once = upsertSuiteSection(doc, suite('8. PG', 'first'), 'alone');
    expect(once.startsWith(doc.trimEnd())).toBe(true);
    expect(once).toContain('## 8. PG');
    const twice = upsertSuiteSection(once, suite('8. PG', 'second'), 'alone');
    expect(twice.match(/## 8\. PG/g)).toHaveLength(1);
    expect(twice).toContain('| figure | second |');
    expect(twice).not.toContain('| figure | first |');
  });
});
