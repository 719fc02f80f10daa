import pg from 'pg';
import type { Logger } from '../../core/logger.js';
import { LOCK_SPACE, LOCKS } from './locks.js';

/**
 * Leader election for several instances on one database: the leader is whoever holds the
 * session advisory lock LOCKS.leader, on a connection of its own (never a pooled one: the
 * lock lives exactly as long as that session). Every `pollMs` a follower tries
 * pg_try_advisory_lock and the leader checks, in pg_locks, that its session still holds it.
 *
 * When the leader's session ends — the process died, its backend was terminated, the
 * network broke — the server frees the lock and the next follower poll takes it. The leader
 * demotes itself AT ONCE when its connection reports an error or end, and when a check
 * fails or does not answer within `pollMs`; the follower that took the lock leads only after
 * holding it a moment (`leaderSettleMs`), by which time the old leader has heard its session
 * end. A leader cut off by the network stops polling, so the server ends its idle session
 * after `3 × pollMs` (idle_session_timeout): by then the cut-off leader has already demoted
 * itself (its check timed out), so two never lead at once as far as timing goes. Leader-only work must still be safe to redo: a lock is not a
 * fence, and a process paused for longer than that could act late.
 */
export interface LeaderElectorOptions {
  url: string;
  /** How often followers try for the lock and the leader checks it holds it (ms). */
  pollMs?: number;
  /** Shown in pg_stat_activity (e.g. "sightline-leader@host"). */
  applicationName?: string;
  connectTimeoutMs?: number;
  logger?: Logger;
  onElected?: () => void | Promise<void>;
  onDemoted?: (reason: string) => void | Promise<void>;
}

export const DEFAULT_LEADER_POLL_MS = 5_000;

/** How long a follower that won the lock holds it before it leads: a quarter of a poll, at most a second. */
export function leaderSettleMs(pollMs: number): number {
  return Math.min(1000, Math.round(pollMs / 4));
}

export class LeaderElector {
  private readonly pollMs: number;
  private readonly settleMs: number;
  private client: pg.Client | undefined;
  private leading = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  /** Elected/demoted callbacks run one after another, never overlapping. */
  private transitions: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LeaderElectorOptions) {
    this.pollMs = opts.pollMs ?? DEFAULT_LEADER_POLL_MS;
    this.settleMs = leaderSettleMs(this.pollMs);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning: a first try now, then every pollMs. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops campaigning; a leader releases the lock (another instance takes over at its next poll). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const client = this.client;
    this.client = undefined;
    const wasLeading = this.leading;
    // The leader's work stops BEFORE the lock is released, so the next leader never overlaps it.
    this.demote('stopped');
    await this.transitions;
    if (client) {
      if (wasLeading) await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, LOCKS.leader]).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => this.schedule(this.pollMs));
    }, delayMs);
  }

  private async tick(): Promise<void> {
    try {
      const client = this.client ?? (await this.connect());
      if (this.stopped) return;
      if (this.leading) {
        const { rows } = await client.query<{ held: boolean }>({
          text: `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2
                 AND pid = pg_backend_pid() AND granted) AS held`,
          values: [LOCK_SPACE, LOCKS.leader],
        });
        if (!rows[0]?.held) this.demote('the leader lock is no longer held');
      } else {
        const { rows } = await client.query<{ won: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS won', [LOCK_SPACE, LOCKS.leader]);
        if (!rows[0]?.won) return;
        // The lock was free because the old leader's session ended; the old leader hears of that from
        // its own socket, which may come a moment after our answer (CI once saw both leading at once
        // when the old one's backend was killed). Holding the lock, we wait that moment out before leading.
        await new Promise((r) => setTimeout(r, this.settleMs));
        if (!this.stopped && this.client === client) this.elect();
      }
    } catch (err) {
      if (this.stopped) return;
      // No answer in time, or the connection failed: we cannot know we still hold the lock.
      this.opts.logger?.warn({ err: (err as Error).message }, 'leader election: PostgreSQL did not answer; campaigning again with a new connection');
      this.dropConnection('the leader connection failed');
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      application_name: this.opts.applicationName ?? 'sightline-leader',
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? Math.max(this.pollMs, 1000),
      // A check that does not answer within a poll demotes: a leader must not lead blind.
      query_timeout: this.pollMs,
      keepAlive: true,
    });
    const lost = (why: string) => {
      if (this.client === client) this.dropConnection(why);
    };
    client.on('error', (err) => lost(`the leader connection failed (${err.message})`));
    client.on('end', () => lost('the leader connection ended'));
    await client.connect();
    // Ends this session on the server when we stop polling (a partition), which frees the lock for another instance.
    await client.query(`SET idle_session_timeout = ${3 * this.pollMs}`).catch(() => undefined);
    if (this.stopped) {
      await client.end().catch(() => undefined);
      throw new Error('stopped');
    }
    this.client = client;
    return client;
  }

  private dropConnection(reason: string): void {
    const client = this.client;
    this.client = undefined;
    this.demote(reason);
    if (client) void client.end().catch(() => undefined);
  }

  private elect(): void {
    this.leading = true;
    this.opts.logger?.info('elected leader: this instance runs the schedule, status sync and module polling');
    this.transitions = this.transitions.then(async () => {
      try {
        await this.opts.onElected?.();
      } catch (err) {
        // Leading without having started the leader's work helps no one: hand the lock on.
        this.opts.logger?.error({ err: (err as Error).message }, 'starting the leader work failed; giving up leadership');
        this.dropConnection('starting the leader work failed');
      }
    });
  }

  private demote(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.opts.logger?.warn({ reason }, 'no longer the leader');
    this.transitions = this.transitions.then(async () => {
      try {
        await this.opts.onDemoted?.(reason);
      } catch (err) {
        this.opts.logger?.error({ err: (err as Error).message }, 'stopping the leader work failed');
      }
    });
  }
}
