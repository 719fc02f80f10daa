import type { BotEvent, BotEventHandler } from '../../src/bot/events.js';

/** Records bot events and lets a test wait for the n-th one without timers. */
export class RecordingHandler implements BotEventHandler {
  readonly events: BotEvent[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  async handle(event: BotEvent): Promise<void> {
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => (this.events.length >= w.n ? (w.resolve(), false) : true));
  }
  until(n: number): Promise<BotEvent[]> {
    if (this.events.length >= n) return Promise.resolve(this.events);
    return new Promise((resolve) => this.waiters.push({ n, resolve: () => resolve(this.events) }));
  }
}
