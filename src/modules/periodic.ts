import type { Logger } from '../core/logger.js';

/**
 * Runs a poll now and then every `intervalSeconds`, never two at once: a poll
 * still running when the next tick comes makes that tick a no-op. `stop()`
 * waits for the poll in flight, so shutdown never cuts a store write in half.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly poll: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  start(intervalSeconds: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), intervalSeconds * 1000);
    this.timer.unref();
    this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  get active(): boolean {
    return this.timer !== undefined;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.poll()
      .catch((err: unknown) => this.logger.error({ err }, 'poll failed'))
      .finally(() => {
        this.running = undefined;
      });
  }
}

/** A module that polls a source now and then: on only when configured, one poll at a time. */
export abstract class PollingModule<Report> {
  private readonly task: PeriodicTask;

  constructor(protected readonly logger: Logger) {
    this.task = new PeriodicTask(() => this.pollOnce(), logger);
  }

  abstract get enabled(): boolean;

  abstract pollOnce(): Promise<Report>;

  start(intervalSeconds: number): void {
    if (this.enabled) this.task.start(intervalSeconds);
  }

  stop(): Promise<void> {
    return this.task.stop();
  }
}
