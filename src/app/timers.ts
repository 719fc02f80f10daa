import type { Logger } from '../core/logger.js';
import { PeriodicTask } from '../modules/periodic.js';
import { RssModule } from '../modules/rss/poller.js';
import { XModule } from '../modules/x/search.js';
import type { Capability } from './capability.js';
import type { Correlation } from './correlation.js';
import type { Hunt } from './hunt.js';
import type { Infrastructure } from './infrastructure.js';

/**
 * What runs on a clock: the weekly hunt schedule, the correlation's XDR catch-up and status
 * passes, and the RSS and X modules' polls. Started last and stopped first after the HTTP server:
 * once they are stopped, nothing starts new work behind the drain.
 */
export function buildTimers(infra: Infrastructure, parts: { correlation: Correlation; hunt: Hunt }, log: Logger): Capability {
  const { config, xdr, store, clock, logger } = infra;
  const { engine, intake } = parts.correlation;
  const { schedule } = parts.hunt;
  const xdrSync = new PeriodicTask(() => engine.syncPending(), log);
  const statusSync = new PeriodicTask(() => engine.syncStatuses(), log);
  const moduleDeps = { xdr, intake, store, clock, excludedModules: config.xdr.excludedModules, cleanRule: config.xdr.cleanRule };
  const rss = config.modules.rssFeeds.length > 0 ? new RssModule({ ...moduleDeps, feeds: config.modules.rssFeeds, http: undefined, logger: logger.child({ component: 'rss' }) }) : undefined;
  const x = config.modules.x.bearerToken ? new XModule({ ...moduleDeps, x: config.modules.x, logger: logger.child({ component: 'x' }) }) : undefined;

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
    // engine.stopXdr() first: the periodic tasks wait for their current run, which must not start more XDR calls.
    stop: (step) => step('timers', () => Promise.allSettled([engine.stopXdr(), rss?.stop(), x?.stop(), xdrSync.stop(), statusSync.stop()])),
  };
}
