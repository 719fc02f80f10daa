import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.js';
import { ConfigError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { fridayOfWeek } from '../../src/domain/talos/week.js';
import { HuntSchedule, previousScheduledRun } from '../../src/services/scheduler.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

const opts = { cron: '0 18 * * 5', timezone: 'America/New_York', runMissedOnStart: true };

async function setup(now: string, armedAt?: string) {
  const store = await LowdbStore.open(join(await mkdtemp(join(tmpdir(), 'sched-')), 'state.json'));
  if (armedAt) await store.update((s) => (s.talos.scheduleArmedAt = armedAt));
  const runs: { trigger: string; week?: string }[] = [];
  const hunts = { runScheduled: async (trigger: 'schedule' | 'missed', week?: string) => runs.push({ trigger, week }) };
  const schedule = new HuntSchedule(opts, hunts, store, new FakeClock(now), silentLogger);
  return { store, runs, schedule };
}

describe('HuntSchedule', () => {
  it('runs the hunt missed while the process was down, for the right week', async () => {
    // Armed on Wednesday; down over Friday 18:00 New York (22:00 UTC); back on Saturday.
    const { runs, schedule } = await setup('2021-07-24T10:00:00Z', '2021-07-21T12:00:00Z');
    await schedule.start();
    schedule.stop();
    expect(runs).toEqual([{ trigger: 'missed', week: '2021-07-23' }]);
  });

  it('does not hunt an old roundup on a first deployment', async () => {
    const { runs, schedule, store } = await setup('2021-07-24T10:00:00Z');
    await schedule.start();
    schedule.stop();
    expect(runs).toEqual([]);
    expect(store.get().talos.scheduleArmedAt).toBe('2021-07-24T10:00:00.000Z');
  });

  it('does nothing on start when the last scheduled time came before it was armed', async () => {
    const { runs, schedule } = await setup('2021-07-23T20:00:00Z', '2021-07-20T12:00:00Z'); // Friday 16:00 New York
    await schedule.start();
    expect(schedule.armed).toBe(true);
    expect(schedule.nextRun()).toBeInstanceOf(Date);
    schedule.stop();
    expect(runs).toEqual([]); // the previous occurrence (2021-07-16) is before arming
  });

  it('refuses an invalid cron or time zone with a sentence naming the setting', async () => {
    const { store } = await setup('2021-07-24T10:00:00Z');
    const hunts = { runScheduled: async () => undefined };
    expect(() => new HuntSchedule({ ...opts, cron: 'every friday' }, hunts, store, new FakeClock(), silentLogger)).toThrow(ConfigError);
    expect(() => new HuntSchedule({ ...opts, timezone: 'Mars/Olympus' }, hunts, store, new FakeClock(), silentLogger)).toThrow(/HUNT_TIMEZONE/);
  });

  it('gives last week for a missed run on a Friday before 18:00 New York time, though "this week" is already today', () => {
    const fridayMorning = new Date('2026-12-04T15:00:00Z'); // 10:00 in New York
    expect(previousScheduledRun(opts.cron, opts.timezone, fridayMorning).toISOString()).toBe('2026-11-27T23:00:00.000Z');
    expect(fridayOfWeek(previousScheduledRun(opts.cron, opts.timezone, fridayMorning), opts.timezone)).toBe('2026-11-27');
    expect(fridayOfWeek(fridayMorning, opts.timezone)).toBe('2026-12-04');
    expect(previousScheduledRun(opts.cron, opts.timezone, new Date('2026-12-05T00:00:00Z')).toISOString()).toBe('2026-12-04T23:00:00.000Z');
  });
});
