import type { Logger } from '../core/logger.js';
import type { Capability, StopStep } from './capability.js';

/** Of the shutdown deadline, the time kept for writing the state file last. */
export const STATE_WRITE_RESERVE_MS = 2000;

export interface ShutdownOptions {
  /** In start order; stopped in reverse. */
  capabilities: Capability[];
  /** The last write of the state, given its reserved share of the time even when the drain ran out. */
  closeState: () => Promise<void>;
  log: Logger;
}

/**
 * The app's bounded stop: every capability halts, then each drains in reverse start order
 * until the deadline; the state is written last either way. Calling it again returns the
 * same shutdown.
 */
export function boundedShutdown(opts: ShutdownOptions): (timeoutMs?: number) => Promise<void> {
  const { capabilities, closeState, log } = opts;
  const reversed = [...capabilities].reverse();
  let stopping: Promise<void> | undefined;
  return (timeoutMs = 9000) => {
    stopping ??= (async () => {
      // The last state write needs its share of the time: a large state takes a second or two.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, timeoutMs - STATE_WRITE_RESERVE_MS)).unref());
      // Each step is timed in the log, so an operator can see what a slow shutdown waited for.
      const steps: Record<string, number> = {};
      const step: StopStep = async (name, work) => {
        const t0 = performance.now();
        await work();
        steps[name] = Math.round(performance.now() - t0);
      };
      for (const c of reversed) c.halt?.();
      const drain = (async () => {
        for (const c of reversed) await c.stop?.(step);
      })();
      const finished = await Promise.race([drain.then(() => true), deadline.then(() => false)]);
      if (!finished) log.warn({ steps }, 'shutdown: in-flight work did not finish in time; it resumes from the journal and the state on the next start');
      await step('state', closeState);
      log.info({ steps }, 'Sightline stopped');
    })();
    return stopping;
  };
}
