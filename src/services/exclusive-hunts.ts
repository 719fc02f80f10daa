import type { Logger } from '../core/logger.js';
import type { DeadLetterSummary } from '../domain/correlation/dead-letters.js';
import type { HuntService, HuntStatus } from '../domain/ports/services.js';
import type { ScheduledHunts } from './scheduler.js';

/** A lock several instances share (PostgreSQL mode: an advisory lock). */
export interface HuntLock {
  /** True when this instance now holds it. */
  tryAcquire(): Promise<boolean>;
  release(): Promise<void>;
  /** True when another instance holds it now (for `hunt status`); absent: never asked. */
  heldElsewhere?(): Promise<boolean>;
}

/** What ExclusiveHunts wraps: the Talos hunts as chat and the schedule use them. */
export interface ResumableHunts extends HuntService, ScheduledHunts {
  /** Resolves when the hunt under way (if any) has finished. */
  idle(): Promise<void>;
}

type StartResult = Awaited<ReturnType<HuntService['runThisWeek']>>;

/** How often a scheduled hunt asks again while another instance's hunt holds the lock. */
const SCHEDULED_WAIT_MS = 5_000;

/**
 * One Talos hunt at a time across instances (PostgreSQL mode). In one process the hunt runner
 * already refuses a second hunt; with several, `hunt now` may reach any of them while the leader
 * runs the weekly one. A hunt holds the shared lock from its start until it has finished:
 * - a chat command finding it taken answers "already running" (on another instance);
 * - the schedule waits for it (the week may then be found hunted, and is skipped as today);
 * - resuming after a takeover happens only when the lock is free: a held lock means its owner is
 *   alive and still running the hunt the store shows as running.
 */
export class ExclusiveHunts implements HuntService, ScheduledHunts {
  constructor(
    private readonly inner: ResumableHunts,
    private readonly lock: HuntLock,
    private readonly opts: {
      logger: Logger;
      resume: () => Promise<void>;
      waitMs?: number;
      stopping?: () => boolean;
      /** XDR dead letters from the shared store (the inner status reads only this process's memory). */
      deadLetters?: () => Promise<DeadLetterSummary>;
    },
  ) {}

  /**
   * What every instance should answer alike: a hunt another instance runs shows as running, and
   * the dead letters are the shared store's. A database that cannot be asked leaves those two as
   * this instance knows them: `hunt status` still answers.
   */
  async status(): Promise<HuntStatus> {
    const status = { ...(await this.inner.status()) };
    const [elsewhere, deadLetters] = await Promise.all([
      status.running ? false : (this.lock.heldElsewhere?.().catch(() => false) ?? false),
      this.opts.deadLetters?.().catch((err: unknown) => {
        this.opts.logger.warn({ err }, 'hunt status could not read the XDR dead letters');
        return undefined;
      }),
    ]);
    if (elsewhere) status.running = runningElsewhere();
    if (deadLetters) status.xdrDeadLetters = deadLetters;
    return status;
  }

  runThisWeek(requestedBy: string): Promise<StartResult> {
    return this.exclusively(() => this.inner.runThisWeek(requestedBy));
  }

  runUri(uri: string, requestedBy: string): Promise<StartResult> {
    return this.exclusively(() => this.inner.runUri(uri, requestedBy));
  }

  async runScheduled(trigger: 'schedule' | 'missed', week?: string): Promise<unknown> {
    while (!(await this.lock.tryAcquire())) {
      if (this.opts.stopping?.()) return { started: false, skipped: 'Sightline is stopping' };
      this.opts.logger.info({ trigger, week }, 'another instance is running a hunt; the scheduled hunt waits for it');
      await new Promise((r) => setTimeout(r, this.opts.waitMs ?? SCHEDULED_WAIT_MS).unref());
    }
    try {
      const result = await this.inner.runScheduled(trigger, week);
      await this.inner.idle();
      return result;
    } finally {
      await this.lock.release();
    }
  }

  /** After a takeover: resumes an interrupted hunt unless a live instance is still running it. */
  async resume(): Promise<void> {
    if (!(await this.lock.tryAcquire())) {
      this.opts.logger.info('another instance is running a hunt; it is not resumed here');
      return;
    }
    try {
      await this.opts.resume();
    } catch (err) {
      await this.lock.release();
      throw err;
    }
    void this.inner.idle().finally(() => this.lock.release());
  }

  private async exclusively(start: () => Promise<StartResult>): Promise<StartResult> {
    const here = (await this.inner.status()).running;
    if (here) return { started: false, alreadyRunning: here };
    if (!(await this.lock.tryAcquire())) return { started: false, alreadyRunning: runningElsewhere() };
    let result: StartResult;
    try {
      result = await start();
    } catch (err) {
      await this.lock.release();
      throw err;
    }
    if (!result.started) await this.lock.release();
    else void this.inner.idle().finally(() => this.lock.release());
    return result;
  }
}

function runningElsewhere(): NonNullable<HuntStatus['running']> {
  return { id: 'elsewhere', label: 'a hunt on another Sightline instance', startedAt: new Date().toISOString(), threatsDone: 0, threatsTotal: 0, onAnotherInstance: true };
}
