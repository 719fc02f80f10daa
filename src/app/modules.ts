import { RssModule } from '../modules/rss/poller.js';
import { XModule } from '../modules/x/search.js';
import type { SightingIntake } from '../domain/correlation/intake.js';
import type { Base } from './parts.js';

/** The polling modules that are configured (RSS feeds, X search); they report what they find as sightings. */
export function buildModules(infra: Base, intake: SightingIntake): { rss?: RssModule; x?: XModule } {
  const { config, xdr, store, clock, logger } = infra;
  const deps = { xdr, intake, store, clock, excludedModules: config.xdr.excludedModules, cleanRule: config.xdr.cleanRule };
  return {
    ...(config.modules.rssFeeds.length > 0 ? { rss: new RssModule({ ...deps, feeds: config.modules.rssFeeds, http: undefined, logger: logger.child({ component: 'rss' }) }) } : {}),
    ...(config.modules.x.bearerToken ? { x: new XModule({ ...deps, x: config.modules.x, logger: logger.child({ component: 'x' }) }) } : {}),
  };
}
