import type { NextFunction, Request, Response } from 'express';

/**
 * What tests need to see about the bot's traffic without proxies or fixed sleeps:
 * every `POST /v1/messages` the emulator refused (the body sent and the answer given),
 * and when the last REST call ended, so a check can wait for "the bot has gone quiet".
 */
export interface RefusedPost {
  /** Position in the refusal log (1, 2, …), the `since` cursor of the test API. */
  seq: number;
  at: string;
  status: number;
  /** Who posted (the bot's e-mail, usually); absent when the token was refused. */
  personEmail?: string;
  body: unknown;
  answer: unknown;
}

const MAX_REFUSALS = 10_000;

export class TrafficObserver {
  private readonly refusals: RefusedPost[] = [];
  private nextSeq = 1;
  private inFlight = 0;
  private lastActivity = Date.now();

  /** Counts a REST request as activity from its start to its end. */
  track(_req: Request, res: Response, next: NextFunction): void {
    this.inFlight++;
    this.lastActivity = Date.now();
    res.once('close', () => {
      this.inFlight--;
      this.lastActivity = Date.now();
    });
    next();
  }

  /** Mounted on POST /v1/messages (after its body is parsed): keeps the refused ones. */
  recordRefusals(req: Request, res: Response, next: NextFunction): void {
    const json = res.json.bind(res);
    let answer: unknown;
    res.json = (payload: unknown) => {
      answer = payload;
      return json(payload);
    };
    res.once('finish', () => {
      if (res.statusCode < 400) return;
      const person = res.locals['person'] as { emails?: string[] } | undefined;
      this.refusals.push({ seq: this.nextSeq++, at: new Date().toISOString(), status: res.statusCode, ...(person?.emails?.[0] ? { personEmail: person.emails[0] } : {}), body: req.body, answer });
      if (this.refusals.length > MAX_REFUSALS) this.refusals.splice(0, this.refusals.length - MAX_REFUSALS);
    });
    next();
  }

  refused(cursor = 0): { items: RefusedPost[]; cursor: number } {
    return { items: this.refusals.filter((r) => r.seq > cursor), cursor: this.nextSeq - 1 };
  }

  /** Milliseconds since the last REST call ended, or 0 while one is in flight. */
  idleForMs(now = Date.now()): number {
    return this.inFlight > 0 ? 0 : Math.max(0, now - this.lastActivity);
  }

  /**
   * Resolves with the idle time once no REST call has been seen for `quietMs`;
   * rejects after `timeoutMs` (the bot kept calling).
   */
  async waitForIdle(quietMs: number, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const idle = this.idleForMs();
      if (idle >= quietMs) return idle;
      const now = Date.now();
      if (now >= deadline) throw new Error(`The bot did not go quiet for ${quietMs} ms within ${timeoutMs} ms.`);
      const wait = this.inFlight > 0 ? 10 : quietMs - idle;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(wait, deadline - now))));
    }
  }
}
