import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../../core/clock.js';
import { SightlineError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { IncomingSighting, SightingIntake } from '../../domain/correlation/intake.js';
import { DedupeIndex, type DedupeDigest, type SightingJournal } from './journal.js';

export type SequencedSighting = IncomingSighting & { seq: number };

/**
 * Most sightings counted in one go: a batch's fixed cost (a state update, its side-effect chain) is
 * shared by up to this many, and the requests waiting behind it wait a few milliseconds at most.
 */
const DEFAULT_BATCH = 128;

/**
 * What consumes accepted sightings (the correlation engine). Items arrive in seq order.
 * `lastAppliedSeq()` must be the highest seq whose effects are DURABLY stored: the
 * journal is replayed after it on start-up and compacted up to it.
 */
export interface SightingProcessor {
  ingest(items: SequencedSighting[]): Promise<void>;
  lastAppliedSeq(): number;
}

export interface JournaledIntakeOptions {
  journal: SightingJournal;
  processor: SightingProcessor;
  clock: Clock;
  logger: Logger;
  /** Most items handed to the processor in one call. */
  maxProcessBatch?: number;
  /** Beyond this many items waiting in memory, the processor catches up from the journal instead. */
  maxPending?: number;
  /** Compact the journal once it is bigger than this and the processor has moved on. */
  compactAfterBytes?: number;
  /** First wait after a processing failure; doubles up to a minute. Real time, not the domain clock. */
  retryDelayMs?: number;
}

/**
 * Wiring (composition root):
 *   const journal = await SightingJournal.open({ path: journalPathFor(config.stateFile), clock, logger,
 *     dedupeWindowSeconds: config.sightings.dedupeWindowSeconds });
 *   const intake = new JournaledIntake({ journal, processor: engine, clock, logger });
 *   await intake.recover();                       // before the HTTP server listens
 *   app.use(createSightingsRouter({ intake, auth: config.sightings, maxBatch: config.sightings.maxBatch, logger, clock }));
 *   // shutdown: await intake.stop(); await journal.close();
 *
 * The 202 point: dedupe → journal append (durable) → answer → process in the background.
 * The processor is never awaited by a request. When it fails, nothing is lost: the
 * items are in the journal and the intake catches up from there (after a pause, and on
 * the next start-up via `recover()`).
 */
export class JournaledIntake implements SightingIntake {
  private readonly journal: SightingJournal;
  private readonly processor: SightingProcessor;
  private pending: SequencedSighting[] = [];
  /** Highest seq the processor has taken (its ingest resolved). */
  private handedUpTo = 0;
  /** True when memory is not the source of truth: the pump reads the journal instead. */
  private lagging = false;
  private pumping: Promise<void> | undefined;
  private readonly inFlight = new Map<DedupeDigest, Promise<unknown>>();
  private readonly stopping = new AbortController();
  private lastCompactedSeq = 0;
  private compactedBytes = 0;

  constructor(private readonly opts: JournaledIntakeOptions) {
    this.journal = opts.journal;
    this.processor = opts.processor;
  }

  async accept(items: IncomingSighting[]): Promise<{ accepted: number; duplicates: number }> {
    const now = this.opts.clock.now().getTime();
    const fresh: IncomingSighting[] = [];
    const freshKeys: DedupeDigest[] = [];
    const waits: Promise<unknown>[] = [];
    for (const item of items) {
      const key = DedupeIndex.digest(item.dedupeKey);
      if (this.journal.dedupe.has(key, now)) {
        // A duplicate of a sighting still being written is only "taken" once that write lands.
        const writing = this.inFlight.get(key);
        if (writing) waits.push(writing);
        continue;
      }
      this.journal.dedupe.remember(key, now, now);
      fresh.push(item);
      freshKeys.push(key);
    }
    const appended = this.journal.append(fresh);
    for (const key of freshKeys) this.inFlight.set(key, appended);
    let seqs: number[];
    try {
      seqs = await appended;
    } catch (err) {
      for (const key of freshKeys) this.journal.dedupe.forget(key);
      throw err;
    } finally {
      for (const key of freshKeys) if (this.inFlight.get(key) === appended) this.inFlight.delete(key);
    }
    this.enqueue(fresh.map((item, i) => ({ ...item, seq: seqs[i]! })));
    if (waits.length > 0) {
      await Promise.all(waits).catch((err: unknown) => {
        throw new SightlineError('busy', 'An earlier copy of this sighting could not be stored yet: resend it.', { httpStatus: 503, cause: err });
      });
    }
    return { accepted: fresh.length, duplicates: items.length - fresh.length };
  }

  /** Start-up: replays the journal after the processor's last applied seq. Retries in the background if the processor fails. */
  async recover(): Promise<{ replayed: number; caughtUp: boolean }> {
    await this.pumping;
    this.lagging = true;
    let replayed = 0;
    const run = this.catchUp((n) => (replayed += n));
    this.pumping = run.then(
      () => undefined,
      () => undefined,
    );
    void this.pumping.finally(() => {
      this.pumping = undefined;
      this.pump();
    });
    try {
      await run;
      this.opts.logger.info({ replayed }, 'sightings journal replayed');
      return { replayed, caughtUp: true };
    } catch (err) {
      this.opts.logger.error({ err, replayed }, 'replaying the sightings journal failed; retrying in the background');
      return { replayed, caughtUp: false };
    }
  }

  /** Resolves when everything accepted so far has been handed to the processor (or the pump gave up for now). */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Stops background processing (pending items stay in the journal for the next start). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  private enqueue(items: SequencedSighting[]): void {
    if (items.length === 0) return;
    if (!this.lagging) {
      if (this.pending.length + items.length > (this.opts.maxPending ?? 50_000)) {
        this.opts.logger.warn({ pending: this.pending.length }, 'sighting processing is behind; catching up from the journal');
        this.lagging = true;
        this.pending = [];
      } else {
        this.pending.push(...items);
      }
    }
    this.pump();
  }

  private pump(): void {
    if (this.pumping || this.stopping.signal.aborted) return;
    if (!this.lagging && this.pending.length === 0) return;
    // One turn of the event loop before the first batch: every request whose append completed in
    // this turn joins it. Started at once, the first item of a group commit went alone and the rest
    // followed: half the batches held one sighting, and each batch pays the same fixed cost (a state
    // update, its side-effect chain, the ladder and card bookkeeping) (issue 14).
    this.pumping = nextTurn()
      .then(() => this.run())
      .finally(() => {
        this.pumping = undefined;
        this.pump();
      });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted && (this.lagging || this.pending.length > 0)) {
      try {
        if (this.lagging) await this.catchUp();
        else await this.deliver(this.pending.splice(0, this.opts.maxProcessBatch ?? DEFAULT_BATCH));
        failures = 0;
        this.maybeCompact();
        // A turn of the event loop before the next batch: counting a backlog (what waited while a
        // snapshot was being written) back to back held every request for 50–70 ms (issue 14).
        if (this.pending.length > 0) await nextTurn();
      } catch (err) {
        failures++;
        this.opts.logger.error({ err, failures, afterSeq: this.handedUpTo }, 'sighting processing failed; the items stay in the journal and will be retried');
        this.lagging = true;
        this.pending = [];
        const wait = Math.min((this.opts.retryDelayMs ?? 1000) * 2 ** (failures - 1), 60_000);
        await delay(wait, undefined, { signal: this.stopping.signal, ref: false }).catch(() => undefined);
      }
    }
  }

  /** Reads the journal after what the processor has, until nothing written is left unread; then memory takes over again. */
  private async catchUp(onDelivered: (n: number) => void = () => undefined): Promise<void> {
    for (;;) {
      const from = Math.max(this.processor.lastAppliedSeq(), this.handedUpTo);
      if (from >= this.journal.durableSeq()) {
        this.lagging = false;
        return;
      }
      const target = this.journal.durableSeq();
      let batch: SequencedSighting[] = [];
      const max = this.opts.maxProcessBatch ?? DEFAULT_BATCH;
      for await (const entry of this.journal.replay(from)) {
        batch.push({ ...entry.item, seq: entry.seq });
        if (batch.length >= max) {
          onDelivered(await this.deliver(batch));
          batch = [];
        }
      }
      if (batch.length > 0) onDelivered(await this.deliver(batch));
      // Everything up to `target` was in this pass; seqs missing from the file (unreadable lines) must not stall the loop.
      this.handedUpTo = Math.max(this.handedUpTo, target);
      if (this.stopping.signal.aborted) return;
    }
  }

  private async deliver(batch: SequencedSighting[]): Promise<number> {
    const after = Math.max(this.processor.lastAppliedSeq(), this.handedUpTo);
    const fresh = batch.filter((item) => item.seq > after);
    if (fresh.length === 0) return 0;
    await this.processor.ingest(fresh);
    this.handedUpTo = fresh.at(-1)!.seq;
    return fresh.length;
  }

  /** Compacts in the background once the journal has doubled since the last compaction (and passed the floor size). */
  private maybeCompact(): void {
    const applied = this.processor.lastAppliedSeq();
    const threshold = Math.max(this.opts.compactAfterBytes ?? 64 * 1024 * 1024, 2 * this.compactedBytes);
    if (this.journal.sizeBytes() < threshold || applied <= this.lastCompactedSeq) return;
    this.lastCompactedSeq = applied;
    this.journal.compact(applied).then(
      () => (this.compactedBytes = this.journal.sizeBytes()),
      (err: unknown) => this.opts.logger.error({ err }, 'sightings journal compaction failed; will try again later'),
    );
  }
}
