import { deadLetterSummary } from '../domain/correlation/dead-letters.js';
import { readCorrelation } from '../domain/correlation/types.js';
import { randomUUID } from 'node:crypto';
import type { TalosFetcher } from '../clients/talos/fetcher.js';
import { incidentUrl } from '../clients/xdr/client.js';
import { asSightlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { HuntService, HuntStatus } from '../domain/ports/services.js';
import { runHunt } from '../domain/hunt/run-hunt.js';
import { parseRoundup } from '../domain/talos/parse.js';
import { fridayOfWeek } from '../domain/talos/week.js';
import type { Roundup } from '../domain/types.js';
import type { HuntRef } from '../notify/notification.js';
import { MAX_HUNT_HISTORY, type HuntRecord } from '../store/state.js';
import { StoreHuntProgress } from './hunt-progress.js';
import { checkRoundupUri } from '../clients/talos/allowlist.js';
import type { HuntRecorder } from '../observability/metrics.js';
import type { HuntDeps } from './hunt-deps.js';

export interface HuntRunnerDeps extends HuntDeps {
  fetcher: Pick<TalosFetcher, 'findWeek' | 'fetchUri'>;
  /** Reads `hunt blog` addresses beyond a roundup file (IOC files, GitHub folders, blog posts); see talos-uri-loader.ts. */
  uriLoader?: { check(uri: string): void; load(uri: string): Promise<Roundup> };
  /** When the schedule fires next (for `hunt status`). */
  nextRun?: () => Date | undefined;
  /** Counts hunts by outcome, with duration and observables, when metrics are on. */
  metrics?: HuntRecorder;
}

type Trigger = HuntRecord['trigger'];
type StartResult = { started: true; huntId: string } | { started: false; alreadyRunning: HuntStatus['running'] };

/**
 * Runs hunts: this week's (schedule, missed run, `hunt now`) or one URI
 * (`hunt blog`). One hunt at a time. "Not published yet" is normal: it becomes
 * a pending retry in the store (so it survives a restart), re-tried every
 * TALOS_RETRY_INTERVAL_SECONDS up to TALOS_MAX_RETRY_ITERATIONS times, then one
 * "not published this week" notice.
 */
export class HuntRunner implements HuntService {
  private current: { record: HuntRecord; total: number; promise: Promise<void> } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private abort = new AbortController();
  private readonly log: Logger;

  constructor(private readonly d: HuntRunnerDeps) {
    this.log = d.logger.child({ component: 'hunt' });
  }

  /** Resumes what a previous process left: an interrupted hunt, then a pending retry. */
  async start(): Promise<void> {
    // Cisco-Talos/IOCs hunts resume through their own pending batch (talos-posts-hunt.ts).
    const interrupted = this.d.store.get().hunts.find((h) => h.status === 'running' && h.source !== 'iocs-repo');
    if (interrupted?.uri) {
      this.log.warn({ hunt: interrupted.id, done: interrupted.threatsDone.length }, 'resuming a hunt interrupted by a restart');
      this.launch(interrupted, () => this.loadUri(interrupted.uri!));
    } else if (interrupted?.week) {
      // Stopped while looking for the week's roundup: nothing was hunted yet, so the same record looks
      // again. Marked failed, the week ran a second time under a new record (the schedule's missed run):
      // one week, two hunts (the PostgreSQL crash suite, a leader killed 5 s into a hunt).
      const week = interrupted.week;
      this.log.warn({ hunt: interrupted.id, week }, 'resuming a hunt interrupted by a restart before its roundup was found');
      this.launch(interrupted, () => this.findWeek(week, interrupted));
    } else if (interrupted) {
      await this.finishRecord(interrupted.id, 'failed', 'interrupted before it knew what to hunt');
    }
    this.armPendingRetry();
  }

  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.abort.abort(new Error('Sightline is shutting down'));
    await this.current?.promise.catch(() => undefined);
    // Stopped, not gone: an instance that stops leading (PostgreSQL mode) may lead again and start() once more.
    this.abort = new AbortController();
  }

  /** Resolves when the running hunt (if any) has finished; for tests and the CLI. */
  async idle(): Promise<void> {
    while (this.current) await this.current.promise.catch(() => undefined);
  }

  runThisWeek(requestedBy: string): Promise<StartResult> {
    return this.runWeek(fridayOfWeek(this.d.clock.now(), this.d.config.schedule.timezone), 'command', requestedBy);
  }

  /** The schedule's entry: skips a week already hunted unless `force`. */
  async runScheduled(trigger: 'schedule' | 'missed', week?: string): Promise<StartResult | { started: false; skipped: string }> {
    const friday = week ?? fridayOfWeek(this.d.clock.now(), this.d.config.schedule.timezone);
    if (this.d.store.get().talos.lastHuntedWeek === friday) {
      this.log.info({ week: friday, trigger }, 'this week was already hunted; not running it twice');
      return { started: false, skipped: `the week of ${friday} was already hunted` };
    }
    if (this.d.store.get().talos.pendingRetry?.week === friday) {
      return { started: false, skipped: `the week of ${friday} is already waiting for Talos to publish` };
    }
    return this.runWeek(friday, trigger);
  }

  async runUri(uri: string, requestedBy: string): Promise<StartResult> {
    if (this.d.uriLoader) this.d.uriLoader.check(uri); // refuse before anything starts
    else checkRoundupUri(uri, this.d.config.talos.allowedHosts);
    if (this.current) return { started: false, alreadyRunning: this.runningStatus() };
    const record = await this.newRecord('command', { uri, label: uri, requestedBy });
    this.launch(record, () => this.loadUri(uri));
    return { started: true, huntId: record.id };
  }

  private loadUri(uri: string): Promise<Roundup> {
    return this.d.uriLoader ? this.d.uriLoader.load(uri) : this.d.fetcher.fetchUri(uri).then((r) => r.roundup);
  }

  status(): HuntStatus {
    const s = this.d.store.get();
    const last = [...s.hunts].reverse().find((h) => h.status !== 'running');
    const pending = s.talos.pendingRetry;
    return {
      running: this.current ? this.runningStatus() : undefined,
      last: last && { id: last.id, label: last.week ?? last.uri ?? '?', status: last.status, startedAt: last.startedAt, finishedAt: last.finishedAt, summary: last.summary },
      nextRun: this.d.nextRun?.()?.toISOString(),
      pendingRetry: pending && { week: pending.week, attempt: pending.attempt, maxAttempts: this.d.config.talos.maxRetryIterations, nextAttemptAt: pending.nextAttemptAt },
      cursorUrlId: s.talos.cursorUrlId,
      xdrDeadLetters: deadLetterSummary(readCorrelation(s)),
    };
  }

  private async runWeek(friday: string, trigger: Trigger, requestedBy?: string): Promise<StartResult> {
    if (this.current) return { started: false, alreadyRunning: this.runningStatus() };
    const record = await this.newRecord(trigger, { week: friday, label: friday, requestedBy });
    this.launch(record, () => this.findWeek(friday, record));
    return { started: true, huntId: record.id };
  }

  /** Finds the week's file; undefined = not published yet (a retry is pending). */
  private async findWeek(friday: string, record: HuntRecord): Promise<Roundup | undefined> {
    const cursor = this.d.store.get().talos.cursorUrlId;
    let result;
    try {
      result = await this.d.fetcher.findWeek(friday, cursor);
    } catch (err) {
      // 5xx and timeouts were already retried with backoff by the HTTP client: report, then retry later.
      const e = asSightlineError(err);
      await this.d.notifier.notify({ kind: 'hunt_failed', week: friday, error: e.userMessage });
      await this.scheduleRetry(friday, record, e.message);
      return undefined;
    }
    if (result.status === 'not_published') {
      await this.scheduleRetry(friday, record, undefined, result.tried.at(-1));
      return undefined;
    }
    await this.d.store.update((s) => {
      delete s.talos.pendingRetry;
      if (result.urlId !== undefined) s.talos.cursorUrlId = result.urlId;
      const h = s.hunts.find((x) => x.id === record.id);
      if (h) h.uri = result.uri;
    });
    return parseRoundup(result.text, result.uri, {
      includeSampleHashes: this.d.config.talos.includeSampleHashes,
      cidrExpandMax: this.d.config.talos.cidrExpandMax,
    });
  }

  private launch(record: HuntRecord, load: () => Promise<Roundup | undefined>): void {
    const run = async () => {
      const roundup = await load();
      if (!roundup) {
        await this.finishRecord(record.id, 'not_published', 'roundup not published yet');
        return;
      }
      const hunt: HuntRef = { id: record.id, label: record.week ?? roundup.publicationDate?.slice(0, 10) ?? record.uri ?? '?', uri: roundup.source };
      this.current!.total = roundup.threats.length;
      const outcomes = await runHunt(roundup, hunt, {
        xdr: this.d.xdr,
        notifier: this.d.notifier,
        progress: new StoreHuntProgress(this.d.store, record.id),
        clock: this.d.clock,
        logger: this.log,
        excludedModules: this.d.config.xdr.excludedModules,
        cleanRule: this.d.config.xdr.cleanRule,
        casebookUrl: this.d.casebookUrl,
        xdrOutput: this.d.config.huntXdrOutput,
        incidentUrl: (id) => incidentUrl(this.d.config.xdr.incidentUrlTemplate, id),
        signal: this.abort.signal,
      });
      const targets = outcomes.reduce((n, o) => n + o.targets.length, 0);
      await this.d.store.update((s) => {
        if (record.week) s.talos.lastHuntedWeek = record.week;
      });
      const observables = outcomes.reduce((n, o) => n + o.observables, 0);
      await this.finishRecord(record.id, 'finished', `${outcomes.length} threats, ${targets} target(s)`, observables);
    };
    const promise = run()
      .catch(async (err) => {
        if (this.abort.signal.aborted) return; // left "running": resumed on next start
        const e = asSightlineError(err);
        this.log.error({ err, hunt: record.id }, 'hunt failed');
        await this.d.notifier.notify({ kind: 'hunt_failed', week: record.week, error: e.userMessage }).catch(() => undefined);
        await this.finishRecord(record.id, 'failed', e.userMessage).catch(() => undefined);
      })
      .finally(() => {
        if (this.current?.record.id === record.id) this.current = undefined;
      });
    this.current = { record, total: 0, promise };
  }

  private async scheduleRetry(week: string, record: HuntRecord, error?: string, lastUri?: string): Promise<void> {
    const prev = this.d.store.get().talos.pendingRetry;
    const attempt = prev?.week === week ? prev.attempt + 1 : 1;
    const max = this.d.config.talos.maxRetryIterations;
    if (this.d.config.talosIocs.sources.includes('iocs-repo')) {
      // Beside the Cisco-Talos/IOCs source the roundup (silent since November 2023) gets one look a
      // week, not 24 hours of retries; TalosSourcesHunt sends the one "nothing new" notice.
      this.log.info({ week, hunt: record.id }, 'no roundup this week; not retrying while the iocs-repo source is on');
      return;
    }
    if (attempt > max) {
      await this.d.store.update((s) => {
        delete s.talos.pendingRetry;
      });
      await this.d.notifier.notify({ kind: 'not_published', week, uri: lastUri ?? prev?.lastUri ?? '', attempts: max + 1 });
      return;
    }
    const nextAttemptAt = new Date(this.d.clock.now().getTime() + this.d.config.talos.retryIntervalSeconds * 1000).toISOString();
    await this.d.store.update((s) => {
      s.talos.pendingRetry = { week, attempt, nextAttemptAt, lastUri: lastUri ?? prev?.lastUri, lastError: error };
    });
    this.log.info({ week, attempt, max, nextAttemptAt, hunt: record.id }, 'roundup not available yet; retry scheduled');
    this.armPendingRetry();
  }

  private armPendingRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const pending = this.d.store.get().talos.pendingRetry;
    if (!pending) return;
    const wait = Math.max(0, Date.parse(pending.nextAttemptAt) - this.d.clock.now().getTime());
    // setTimeout overflows past ~24.8 days; re-arm in steps.
    const step = Math.min(wait, 2 ** 31 - 1);
    this.retryTimer = setTimeout(() => {
      if (step < wait) return this.armPendingRetry();
      void this.retryNow();
    }, step);
    this.retryTimer.unref();
  }

  /** Runs the pending retry now (the timer's job; tests call it directly). */
  async retryNow(): Promise<StartResult | undefined> {
    const pending = this.d.store.get().talos.pendingRetry;
    if (!pending) return undefined;
    if (this.current) {
      this.armPendingRetry();
      return undefined;
    }
    return this.runWeek(pending.week, 'schedule');
  }

  private runningStatus(): HuntStatus['running'] {
    const c = this.current!;
    return { id: c.record.id, label: c.record.week ?? c.record.uri ?? '?', startedAt: c.record.startedAt, threatsDone: this.d.store.get().hunts.find((h) => h.id === c.record.id)?.threatsDone.length ?? 0, threatsTotal: c.total };
  }

  private async newRecord(trigger: Trigger, o: { week?: string; uri?: string; label: string; requestedBy?: string }): Promise<HuntRecord> {
    const record: HuntRecord = {
      id: `hunt-${this.d.clock.now().toISOString().replace(/[:.]/g, '')}-${randomUUID().slice(0, 8)}`,
      trigger,
      requestedBy: o.requestedBy,
      week: o.week,
      uri: o.uri,
      startedAt: this.d.clock.now().toISOString(),
      status: 'running',
      threatsDone: [],
      casebooks: {},
    };
    await this.d.store.update((s) => {
      s.hunts.push(record);
      if (s.hunts.length > MAX_HUNT_HISTORY) s.hunts.splice(0, s.hunts.length - MAX_HUNT_HISTORY);
    });
    return structuredClone(record);
  }

  private async finishRecord(id: string, status: Exclude<HuntRecord['status'], 'running'>, summary: string, observables = 0): Promise<void> {
    const startedAt = this.d.store.get().hunts.find((x) => x.id === id)?.startedAt;
    if (startedAt) this.d.metrics?.huntFinished({ outcome: status, seconds: Math.max(0, (this.d.clock.now().getTime() - Date.parse(startedAt)) / 1000), observables });
    await this.d.store.update((s) => {
      const h = s.hunts.find((x) => x.id === id);
      if (!h) return;
      h.status = status;
      h.finishedAt = this.d.clock.now().toISOString();
      h.summary = summary;
      if (status === 'finished') delete h.outcomes;
    });
  }
}

