import cronParser from 'cron-parser';
import schedule from 'node-schedule';
import type { Clock } from '../core/clock.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { fridayOfWeek } from '../domain/talos/week.js';
import type { Store } from '../store/store.js';

export interface ScheduledHunts {
  runScheduled(trigger: 'schedule' | 'missed', week?: string): Promise<unknown>;
}

/**
 * The weekly hunt schedule (default Friday 18:00 America/New_York). On start it
 * also runs a hunt missed while the process was down: only when the bot was
 * already deployed (armed) before the missed time, so a first deployment does
 * not hunt an old roundup by surprise.
 */
export class HuntSchedule {
  private job: schedule.Job | undefined;

  constructor(
    private readonly opts: { cron: string; timezone: string; runMissedOnStart: boolean },
    private readonly hunts: ScheduledHunts,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    validateCron(opts.cron, opts.timezone);
  }

  async start(): Promise<void> {
    const now = this.clock.now();
    const armedAt = this.store.get().talos.scheduleArmedAt;
    if (!armedAt) {
      await this.store.update((s) => {
        s.talos.scheduleArmedAt = now.toISOString();
      });
    }
    this.job = schedule.scheduleJob({ rule: this.opts.cron, tz: this.opts.timezone }, () => {
      void this.hunts.runScheduled('schedule').catch((err) => this.logger.error({ err }, 'scheduled hunt could not start'));
    });
    this.logger.info({ cron: this.opts.cron, tz: this.opts.timezone, next: this.nextRun()?.toISOString() }, 'hunt schedule armed');
    const missed = this.missedRun(now, armedAt);
    if (missed && this.opts.runMissedOnStart) {
      const week = fridayOfWeek(missed, this.opts.timezone);
      this.logger.warn({ missed: missed.toISOString(), week }, 'a scheduled hunt was missed while Sightline was down; running it now');
      await this.hunts.runScheduled('missed', week);
    }
  }

  stop(): void {
    this.job?.cancel();
    this.job = undefined;
  }

  get armed(): boolean {
    return this.job !== undefined;
  }

  nextRun(): Date | undefined {
    const next = this.job?.nextInvocation();
    return next ? new Date(next.getTime()) : undefined;
  }

  /** The last scheduled time before now, if it fell after the bot was first armed. */
  missedRun(now: Date, armedAt: string | undefined): Date | undefined {
    if (!armedAt) return undefined;
    const prev = previousScheduledRun(this.opts.cron, this.opts.timezone, now);
    return prev.getTime() > Date.parse(armedAt) ? prev : undefined;
  }
}

/** The last time the schedule fired before `now`: the run a process that was down may have missed. */
export function previousScheduledRun(cron: string, timezone: string, now: Date): Date {
  return cronParser.parseExpression(cron, { currentDate: now, tz: timezone }).prev().toDate();
}

export function validateCron(cron: string, tz: string): void {
  try {
    cronParser.parseExpression(cron, { tz });
  } catch (err) {
    throw new ConfigError([`HUNT_CRON "${cron}" with HUNT_TIMEZONE "${tz}" is not a valid cron schedule (${(err as Error).message})`]);
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new ConfigError([`HUNT_TIMEZONE "${tz}" is not a known time zone (use an IANA name such as America/New_York)`]);
  }
}
