/** Times one part of a shutdown under `name`, so the log shows what a slow stop waited for. */
export type StopStep = (name: string, work: () => Promise<unknown> | unknown) => Promise<void>;

/**
 * One part of the running app (chat, hunt, correlation, HTTP, …). The composition root builds
 * them, starts them in its order and stops them in the reverse order.
 */
export interface Capability {
  readonly name: string;
  /** Begins the capability's work. */
  start?(): Promise<void> | void;
  /** First thing on shutdown, for every capability before any drains: take no new work (synchronous). */
  halt?(): void;
  /** Drains in-flight work and stops; each part timed through `step`. */
  stop?(step: StopStep): Promise<void>;
}
