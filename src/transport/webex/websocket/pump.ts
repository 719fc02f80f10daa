import type { BotEventHandler } from '../../../bot/events.js';
import type { Logger } from '../../../core/logger.js';
import { activityRef } from './activity.js';
import type { ActivityReader } from './reader.js';
import { installSdkRejectionGuard } from './sdk-rejection-guard.js';
import { bounded, type OfflineKind, type SocketConnection, type SocketFactory } from './socket-port.js';

export interface WebsocketPumpOptions {
  factory: SocketFactory;
  reader: ActivityReader;
  handler: BotEventHandler;
  logger: Logger;
  /** Longest wait for one connection attempt (WEBEX_CONNECT_TIMEOUT_SECONDS). */
  connectTimeoutMs: number;
  /** Backoff between our own attempts: doubles from `initialMs` up to `maxMs`. */
  backoff: { initialMs: number; maxMs: number };
  /** Bound on closing the socket and deleting the device. */
  closeTimeoutMs?: number;
}

export type PumpState = 'stopped' | 'connecting' | 'online' | 'down';

export interface PumpFigures {
  connects: number;
  outages: number;
  /** Milliseconds from the last outage's start to being back online. */
  lastReconnectMs?: number;
}

/**
 * Websocket mode's event pump: holds one Mercury connection and keeps it (webex-websocket.md §5).
 * - start() is bounded by the connect timeout; past it the bot runs on and this retries with backoff;
 * - a close the SDK treats as final (1012, 4000, 1000 "server shutdown"…) is noticed and a fresh
 *   SDK instance with a fresh device connects, with backoff; a transient close gets the SDK's own
 *   reconnect for one connect timeout before we take over;
 * - the log says "down" once per outage and "back" once; readiness() is false while down;
 * - stop() closes the socket and deletes the device, bounded, and nothing reconnects after it;
 * - a start() that throws leaves the pump stopped, so a later start() really starts.
 */
export class WebsocketPump {
  private state: PumpState = 'stopped';
  private conn: SocketConnection | undefined;
  private generation = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private attempt = 0;
  private downSince: number | undefined;
  private downReason = '';
  private removeGuard: (() => void) | undefined;
  private readonly log: Logger;
  private readonly inFlight = new Set<Promise<void>>();
  readonly figures: PumpFigures = { connects: 0, outages: 0 };

  constructor(private readonly opts: WebsocketPumpOptions) {
    this.log = opts.logger.child({ component: 'webex-websocket' });
  }

  get status(): PumpState {
    return this.state;
  }

  /** For /readyz: ok only while the websocket is connected. */
  readiness(): { ok: boolean; detail?: string } {
    if (this.state === 'online') return { ok: true };
    if (this.state === 'stopped') return { ok: false, detail: 'the Webex websocket is stopped' };
    const since = this.downSince ? ` since ${new Date(this.downSince).toISOString()}` : '';
    return { ok: false, detail: `the Webex websocket is not connected${since} (${this.downReason || 'connecting'}); Sightline keeps retrying: check outbound access to Webex and HTTPS_PROXY` };
  }

  async start(): Promise<void> {
    if (this.state !== 'stopped') return;
    this.state = 'connecting';
    const gen = ++this.generation;
    try {
      this.removeGuard = installSdkRejectionGuard(this.log);
      const ok = await this.connect(gen);
      if (!ok && gen === this.generation) this.scheduleRetry(gen);
    } catch (err) {
      // Nothing half-started survives: the next start() begins from scratch.
      await this.reset();
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    await this.reset();
    await Promise.allSettled([...this.inFlight]);
    this.log.info('Webex websocket closed and its device deleted');
  }

  private async reset(): Promise<void> {
    this.generation++;
    this.state = 'stopped';
    this.clearTimers();
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close(this.closeTimeout);
    this.removeGuard?.();
    this.removeGuard = undefined;
    this.downSince = undefined;
  }

  private get closeTimeout(): number {
    return this.opts.closeTimeoutMs ?? 3000;
  }

  /** One attempt: a fresh SDK instance and device. True when online. */
  private async connect(gen: number): Promise<boolean> {
    const conn = this.opts.factory.open({
      activity: (a) => this.onActivity(a),
      online: () => conn === this.conn && this.markUp(),
      offline: (kind, code, reason) => conn === this.conn && this.onOffline(kind, code, reason),
    });
    this.conn = conn;
    const outcome = await bounded(
      conn.ready.then(() => 'ok' as const),
      this.opts.connectTimeoutMs,
      'timeout' as const,
    ).catch((err: unknown) => (err as Error).message || 'the websocket was refused');
    if (gen !== this.generation) {
      // stop() ran meanwhile and closed it.
      return false;
    }
    if (outcome === 'ok') {
      this.attempt = 0;
      this.figures.connects++;
      this.markUp();
      return true;
    }
    this.conn = undefined;
    await conn.close(this.closeTimeout);
    this.markDown(outcome === 'timeout' ? `no connection within ${Math.round(this.opts.connectTimeoutMs / 1000)} s` : outcome);
    return false;
  }

  private onOffline(kind: OfflineKind, code: number, reason: string): void {
    const why = `closed by Webex with ${code}${reason ? ` "${reason}"` : ''}`;
    this.markDown(why);
    const gen = this.generation;
    if (kind === 'transient') {
      // The SDK reconnects after these itself; if it has not within one connect timeout, we take over.
      this.clearTimers();
      this.watchdog = setTimeout(() => void this.replace(gen), this.opts.connectTimeoutMs);
      return;
    }
    // Final for the SDK (§3): it will not reconnect; we do, with a fresh device.
    void this.replace(gen);
  }

  /** Drops the current connection (and its device) and connects anew after the backoff. */
  private async replace(gen: number): Promise<void> {
    if (gen !== this.generation || this.state === 'online') return;
    const old = this.conn;
    this.conn = undefined;
    await old?.close(this.closeTimeout);
    if (gen === this.generation) this.scheduleRetry(gen);
  }

  private scheduleRetry(gen: number): void {
    this.clearTimers();
    const delay = Math.min(this.opts.backoff.maxMs, this.opts.backoff.initialMs * 2 ** this.attempt);
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      void (async () => {
        if (gen !== this.generation) return;
        const ok = await this.connect(gen);
        if (!ok && gen === this.generation) this.scheduleRetry(gen);
      })();
    }, delay);
  }

  private markDown(reason: string): void {
    this.downReason = reason;
    if (this.state === 'down') return;
    const first = this.state === 'connecting' && this.figures.connects === 0;
    this.state = 'down';
    this.downSince = Date.now();
    this.figures.outages++;
    this.log.warn({ reason }, first ? `the Webex websocket could not connect (${reason}); the bot runs on and keeps retrying with backoff` : `the Webex websocket is down (${reason}); reconnecting with backoff`);
  }

  private markUp(): void {
    if (this.state === 'online') return;
    this.clearTimers();
    const was = this.state;
    this.state = 'online';
    this.attempt = 0;
    if (was === 'down' && this.downSince !== undefined) {
      this.figures.lastReconnectMs = Date.now() - this.downSince;
      this.log.info({ downMs: this.figures.lastReconnectMs }, `the Webex websocket is back after ${(this.figures.lastReconnectMs / 1000).toFixed(1)} s`);
    } else {
      this.log.info('Webex websocket connected');
    }
    this.downSince = undefined;
    this.downReason = '';
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    this.retryTimer = undefined;
    this.watchdog = undefined;
  }

  private onActivity(raw: unknown): void {
    const ref = activityRef(raw);
    if (!ref || this.opts.reader.isOwn(ref)) return;
    const job = (async () => {
      const event = await this.opts.reader.read(ref);
      if (event) await this.opts.handler.handle(event);
    })()
      .catch((err: unknown) => this.log.error({ err, eventId: ref.eventId }, `handling Webex event ${ref.eventId} failed`))
      .finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
  }
}
