import type { BotEvent } from '../../../../src/bot/events.js';
import { createLogger, type Logger } from '../../../../src/core/logger.js';
import type { OfflineKind, SocketConnection, SocketEvents, SocketFactory } from '../../../../src/transport/webex/websocket/socket-port.js';

/** One fake connection attempt: the test decides when (and whether) it comes online. */
export class FakeConnection implements SocketConnection {
  readonly ready: Promise<void>;
  closed = false;
  resolve!: () => void;
  reject!: (err: Error) => void;
  constructor(readonly events: SocketEvents) {
    this.ready = new Promise<void>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.ready.catch(() => undefined);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  offline(kind: OfflineKind, code: number, reason = ''): void {
    this.events.offline(kind, code, reason);
  }
}

/** Records every attempt; `autoConnect` makes each new attempt succeed at once. */
export class FakeFactory implements SocketFactory {
  readonly opened: FakeConnection[] = [];
  autoConnect = true;
  throwOnOpen: Error | undefined;
  open(events: SocketEvents): SocketConnection {
    if (this.throwOnOpen) throw this.throwOnOpen;
    const c = new FakeConnection(events);
    this.opened.push(c);
    if (this.autoConnect) c.resolve();
    return c;
  }
  get last(): FakeConnection {
    const c = this.opened.at(-1);
    if (!c) throw new Error('no connection opened yet');
    return c;
  }
}

/** A logger whose lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) } });
  return { logger, lines };
}

export class Events {
  readonly seen: BotEvent[] = [];
  async handle(e: BotEvent): Promise<void> {
    this.seen.push(e);
  }
}
