import { githubClientFor } from '../clients/github/from-config.js';
import { TalosFetcher } from '../clients/talos/fetcher.js';
import { casebookUrl } from '../clients/xdr/client.js';
import type { HuntDeps } from '../services/hunt-deps.js';
import { HuntRunner } from '../services/hunt-runner.js';
import { HuntSchedule } from '../services/scheduler.js';
import { stateEtagStore, TalosPostsHunt } from '../services/talos-posts-hunt.js';
import { TalosSourcesHunt } from '../services/talos-sources.js';
import { TalosUriLoader } from '../services/talos-uri-loader.js';
import type { DeadLetterSummary } from '../domain/correlation/dead-letters.js';
import type { HuntService } from '../domain/ports/services.js';
import { ExclusiveHunts, type HuntLock } from '../services/exclusive-hunts.js';
import type { Capability } from './capability.js';
import type { Base, NotifyPart } from './parts.js';

/** The weekly Talos hunt: the roundup runner, the Cisco-Talos/IOCs posts, and their schedule. */
export interface Hunt extends Capability {
  hunts: HuntRunner;
  /** The weekly hunt over every Talos source (TALOS_SOURCES): chat's hunt commands and the schedule use it. */
  talosHunts: TalosSourcesHunt;
  /** Built here, armed and disarmed with the other timers (timers.ts). */
  schedule: HuntSchedule;
  /** What chat's hunt commands call: the Talos hunts, one at a time across instances when a lock is shared. */
  commands: HuntService;
}

/** What several instances (PostgreSQL mode) share: one hunt at a time between them (ExclusiveHunts), and the XDR dead letters `hunt status` shows. */
export interface SharedHunts {
  lock: HuntLock;
  deadLetters?: () => Promise<DeadLetterSummary>;
}

export function buildHunt(infra: Base, notify: Pick<NotifyPart, 'outbox'>, shared?: SharedHunts): Hunt {
  const { config, store, xdr, clock, logger, metrics } = infra;
  const outbox = notify.outbox;
  let schedule: HuntSchedule | undefined;
  const talosFetcher = new TalosFetcher({ talos: config.talos, logger });
  const huntDeps: HuntDeps = { store, xdr, notifier: outbox, clock, logger, config, casebookUrl: (id) => casebookUrl(config.xdr.casebookUrlTemplate, id) };
  const hunts = new HuntRunner({
    ...huntDeps,
    fetcher: talosFetcher,
    nextRun: () => schedule?.nextRun(),
    metrics: metrics?.hunts,
    uriLoader: new TalosUriLoader({ fetcher: talosFetcher, config, clock, logger }),
  });
  // What Talos publishes today: the Cisco-Talos/IOCs posts, beside the roundup (TALOS_SOURCES).
  let postsAbort = new AbortController();
  const talosHunts = new TalosSourcesHunt({
    runner: hunts,
    posts: new TalosPostsHunt({
      ...huntDeps,
      github: githubClientFor(config, { clock, logger, etags: stateEtagStore(store) }),
      // Read at each use: a stopped hunt (an instance that stops leading) may start again with a fresh signal.
      get signal() {
        return postsAbort.signal;
      },
    }),
    store,
    notifier: outbox,
    clock,
    logger,
    config,
  });
  let stopping = false;
  // Resumes a hunt a restart interrupted (in the background).
  const resume = async (): Promise<void> => {
    await hunts.start();
    talosHunts.start();
  };
  const exclusive = shared
    ? new ExclusiveHunts(talosHunts, shared.lock, { logger: logger.child({ component: 'hunt-lock' }), resume, stopping: () => stopping, ...(shared.deadLetters ? { deadLetters: shared.deadLetters } : {}) })
    : undefined;
  schedule = new HuntSchedule(config.schedule, exclusive ?? talosHunts, store, clock, logger.child({ component: 'schedule' }));

  return {
    name: 'hunt',
    hunts,
    talosHunts,
    schedule,
    commands: exclusive ?? talosHunts,
    start: async () => {
      stopping = false;
      await (exclusive ? exclusive.resume() : resume());
    },
    stop: async (step) => {
      stopping = true;
      postsAbort.abort(new Error('Sightline is shutting down'));
      await step('hunt', () => Promise.all([hunts.stop(), talosHunts.idle().catch(() => undefined)]));
      postsAbort = new AbortController();
    },
  };
}
