import type pg from 'pg';
import type { Logger } from '../../core/logger.js';
import { PeriodicTask } from '../../modules/periodic.js';
import { LeaderElector } from '../../store/postgres/leader.js';
import { runRetention } from '../../store/postgres/retention.js';
import type { Capability } from '../capability.js';
import type { Hunt } from '../hunt.js';
import { buildModules } from '../modules.js';
import type { Base, CorrelationPart } from '../parts.js';

/** How often the leader prunes history past HISTORY_RETENTION_DAYS (each run is bounded in batches). */
const RETENTION_EVERY_SECONDS = 3600;

/**
 * What only one instance of several may do, run by whichever holds the leader lock
 * (LeaderElector): the weekly schedule and its missed-run check, resuming an interrupted hunt,
 * the XDR status sync, the RSS and X polls, and history retention. Elected, it starts them;
 * demoted (lock lost, PostgreSQL unreachable, shutdown), it stops them before the lock is let go,
 * so two leaders never overlap. All of it is safe to redo: a new leader resumes from the database.
 */
export function leaderWork(
  infra: Base,
  parts: { pool: pg.Pool; correlation: CorrelationPart; hunt: Hunt; instance: string; /** Runs first when elected (the control document as the last leader left it). */ beforeWork?: () => Promise<void> },
  log: Logger,
): Capability & { readonly isLeader: boolean } {
  const { config } = infra;
  const database = config.database!;
  const { correlation, hunt } = parts;
  const statusSync = new PeriodicTask(() => correlation.syncStatuses(), log);
  const retention = new PeriodicTask(async () => {
    const report = await runRetention(parts.pool, { retentionDays: database.retentionDays, dedupeWindowSeconds: config.sightings.dedupeWindowSeconds });
    log.debug({ report }, 'history retention ran');
  }, log);
  const { rss, x } = buildModules(infra, correlation.intake);
  let leading = false;

  const startWork = async (): Promise<void> => {
    await parts.beforeWork?.();
    leading = true;
    // Not awaited: a missed hunt or a resumed one can run for minutes, and the elector must stay responsive.
    // In this order: the interrupted hunt is resumed (and holds the hunt lock) before the missed-run
    // check looks, so that check waits for it and then finds the week hunted, instead of hunting it again.
    void (async () => {
      await Promise.resolve(hunt.start?.()).catch((err: unknown) => log.error({ err }, 'resuming an interrupted hunt failed'));
      await hunt.schedule.start().catch((err: unknown) => log.error({ err }, 'the weekly schedule could not be armed'));
    })();
    if (config.correlation.statusSyncSeconds > 0) statusSync.start(config.correlation.statusSyncSeconds);
    rss?.start(config.modules.rssPollSeconds);
    x?.start(config.modules.x.pollSeconds);
    retention.start(RETENTION_EVERY_SECONDS);
  };
  const stopWork = async (): Promise<void> => {
    leading = false;
    hunt.schedule.stop();
    await Promise.allSettled([statusSync.stop(), rss?.stop(), x?.stop(), retention.stop(), hunt.stop?.(async (_n, work) => void (await work()))]);
  };

  const elector = new LeaderElector({
    url: database.url,
    pollMs: database.leaderPollSeconds * 1000,
    applicationName: `sightline-leader ${parts.instance}`,
    logger: log.child({ component: 'leader' }),
    onElected: startWork,
    onDemoted: stopWork,
  });

  return {
    name: 'leader',
    get isLeader() {
      return leading;
    },
    start: () => elector.start(),
    halt: () => hunt.schedule.stop(),
    stop: (step) => step('leader', () => elector.stop()),
  };
}
