import type { HuntService, HuntStatus } from '../domain/ports/services.js';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { fridayOfWeek } from '../domain/talos/week.js';
import type { Notifier } from '../notify/notification.js';
import type { Store } from '../store/store.js';
import type { HuntRunner } from './hunt-runner.js';
import type { ScheduledHunts } from './scheduler.js';
import type { TalosPostsHunt } from './talos-posts-hunt.js';

/**
 * The weekly hunt over every configured Talos source (TALOS_SOURCES): the
 * Cisco-Talos/IOCs posts first, then the roundup (one look, no day of
 * retries, while the posts source is on). Each source reports on its own; a
 * week with nothing new from any gives one "nothing new from Talos" notice.
 * Chat's `hunt now` and `hunt status` go through here; `hunt blog` and the
 * rest are the HuntRunner's.
 */
export interface TalosSourcesDeps {
  runner: HuntRunner;
  posts?: TalosPostsHunt;
  store: Store;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  config: Config;
}

type StartResult = Awaited<ReturnType<HuntService['runThisWeek']>>;

export class TalosSourcesHunt implements HuntService, ScheduledHunts {
  private week: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly d: TalosSourcesDeps) {
    this.log = d.logger.child({ component: 'talos-sources' });
  }

  private get sources(): Set<string> {
    const list = new Set<string>(this.d.config.talosIocs.sources);
    if (!this.d.posts) list.delete('iocs-repo');
    return list;
  }

  /** Resumes a posts hunt a restart interrupted (its batch is pending in the state). */
  start(): void {
    if (!this.sources.has('iocs-repo') || !this.d.store.get().talos.iocsRepo?.pending) return;
    this.log.warn('resuming the Talos posts hunt interrupted by a restart');
    this.week = this.serial(() => this.d.posts!.run('missed').then(() => undefined));
  }

  async runScheduled(trigger: 'schedule' | 'missed', week?: string): Promise<unknown> {
    if (!this.sources.has('iocs-repo')) return this.d.runner.runScheduled(trigger, week);
    const friday = week ?? fridayOfWeek(this.d.clock.now(), this.d.config.schedule.timezone);
    this.week = this.serial(() => this.runAll(trigger, friday));
    await this.week;
    return { started: true };
  }

  /** One week's run at a time: a schedule firing during `hunt now` waits instead of choosing the same posts twice. */
  private serial(work: () => Promise<void>): Promise<void> {
    const previous = this.week ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const settled = next.finally(() => {
      if (this.week === settled) this.week = undefined;
    });
    return settled;
  }

  async runThisWeek(requestedBy: string): Promise<StartResult> {
    if (!this.sources.has('iocs-repo')) return this.d.runner.runThisWeek(requestedBy);
    const running = this.d.runner.status().running;
    if (running) return { started: false, alreadyRunning: running };
    if (this.week) return { started: false, alreadyRunning: { id: 'talos-week', label: 'this week (all Talos sources)', startedAt: this.d.clock.now().toISOString(), threatsDone: 0, threatsTotal: 0 } };
    const friday = fridayOfWeek(this.d.clock.now(), this.d.config.schedule.timezone);
    this.week = this.serial(() => this.runAll('command', friday, requestedBy));
    return { started: true, huntId: `talos-week-${friday}` };
  }

  runUri(uri: string, requestedBy: string): ReturnType<HuntService['runUri']> {
    return this.d.runner.runUri(uri, requestedBy);
  }

  /** Resolves when this week's run (both sources) is done; for tests and the CLI. */
  async idle(): Promise<void> {
    while (this.week) await this.week.catch(() => undefined);
    await this.d.runner.idle();
  }

  status(): HuntStatus {
    const base = this.d.runner.status();
    const sources: NonNullable<HuntStatus['sources']> = [];
    if (this.sources.has('iocs-repo')) {
      const c = this.d.posts!.cursor();
      const repo = `${this.d.config.talosIocs.owner}/${this.d.config.talosIocs.repo}@${this.d.config.talosIocs.branch}`;
      const at = c.sha ? `last commit ${c.sha.slice(0, 7)} (${c.date})` : `no hunt yet: the first takes the last ${this.d.config.talosIocs.firstLookbackDays} days`;
      sources.push({ name: 'iocs-repo', cursor: `${repo}, ${at}${c.pending ? `, ${c.pending} post(s) being hunted` : ''}` });
    }
    if (this.sources.has('roundup')) {
      const s = this.d.store.get().talos;
      sources.push({ name: 'roundup', cursor: s.lastHuntedWeek ? `last hunted week ${s.lastHuntedWeek}` : 'no roundup hunted yet' });
    }
    return { ...base, sources };
  }

  private async runAll(trigger: 'schedule' | 'missed' | 'command', friday: string, requestedBy?: string): Promise<void> {
    let somethingNew = false;
    let failed = false;
    if (this.sources.has('iocs-repo')) {
      const r = await this.d.posts!.run(trigger, requestedBy);
      somethingNew ||= r.status === 'hunted';
      failed ||= r.status === 'failed';
    }
    if (this.sources.has('roundup')) {
      const r = trigger === 'command' ? await this.d.runner.runThisWeek(requestedBy ?? 'unknown') : await this.d.runner.runScheduled(trigger, friday);
      if ('started' in r && r.started) {
        await this.d.runner.idle();
        const record = this.d.store.get().hunts.find((h) => h.id === r.huntId);
        somethingNew ||= record?.status !== 'not_published';
      } else {
        somethingNew ||= 'skipped' in r && /already hunted/.test(r.skipped);
      }
    }
    if (!somethingNew && !failed) {
      this.log.info({ week: friday }, 'nothing new from Talos this week');
      await this.d.notifier.notify({ kind: 'talos_nothing_new', week: friday, sources: [...this.sources] });
    }
  }
}
