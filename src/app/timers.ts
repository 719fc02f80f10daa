import type { Logger } from '../core/logger.js';
import { PeriodicTask } from '../modules/periodic.js';
import type { Capability } from './capability.js';
import type { Hunt } from './hunt.js';
import type { Base, CorrelationPart } from './parts.js';
import { buildModules } from './modules.js';

/**
 * What runs on a clock: the weekly hunt schedule, the correlation's XDR catch-up and status
 * passes, and the RSS and X modules' polls. Started last and stopped first after the HTTP server:
 * once they are stopped, nothing starts new work behind the drain.
 */
export function buildTimers(infra: Base, parts: { correlation: CorrelationPart; hunt: Hunt }, log: Logger): Capability {
  const { config } = infra;
  const correlation = parts.correlation;

  const { schedule } = parts.hunt;
  const xdrSync = new PeriodicTask(() => correlation.syncPending(), log);
  const statusSync = new PeriodicTask(() => correlation.syncStatuses(), log);
  const { rss, x } = buildModules(infra, correlation.intake);

  return {
    name: 'timers',
    start: async () => {
      // May run a hunt missed while Sightline was down before it returns.
      await schedule.start();
      // Catch-up passes: XDR writes that failed (or queued up behind a burst) are retried every few seconds.
      xdrSync.start(5);
      if (config.correlation.statusSyncSeconds > 0) statusSync.start(config.correlation.statusSyncSeconds);
      rss?.start(config.modules.rssPollSeconds);
      x?.start(config.modules.x.pollSeconds);
    },
    // No scheduled hunt may start while the rest drains.
    halt: () => schedule.stop(),
    // stopXdr() first: the periodic tasks wait for their current run, which must not start more XDR calls.
    stop: (step) => step('timers', () => Promise.allSettled([correlation.stopXdr(), rss?.stop(), x?.stop(), xdrSync.stop(), statusSync.stop()])),
  };
}
