import { hostname } from 'node:os';
import { systemClock } from '../../core/clock.js';
import { createLogger } from '../../core/logger.js';
import { secretsOf, type Config } from '../../config/load.js';
import { parseLadder } from '../../domain/correlation/ladder.js';
import { parseSeverityRule } from '../../domain/correlation/severity.js';
import { postgresNotifications } from '../../notify/postgres-notifications.js';
import { pgOpenIncidentLookup } from '../../services/open-incident.js';
import { PostgresIncidentService } from '../../services/pg-incident-service.js';
import { PostgresXdrMirror } from '../../services/postgres-xdr-mirror.js';
import { SharedCorrelation } from '../../services/shared-correlation.js';
import { withAdvisoryLock } from '../../store/postgres/advisory.js';
import { sharedMirrorAllowance } from '../../store/postgres/call-allowance.js';
import { chatClaims } from '../../store/postgres/chat-claims.js';
import { LOCKS } from '../../store/postgres/locks.js';
import { PostgresControlStore } from '../../store/postgres/control-store.js';
import { PostgresCorrelationStore } from '../../store/postgres/correlation.js';
import { postgresHuntLock } from '../../store/postgres/hunt-lock.js';
import { PostgresIntake } from '../../store/postgres/intake.js';
import { migrate } from '../../store/postgres/migrate.js';
import { createPool, poolError } from '../../store/postgres/pool.js';
import { PostgresSightingsLog } from '../../store/postgres/sightings-log.js';
import { PostgresXdrQueue } from '../../store/postgres/xdr-queue.js';
import type { RunningHttpServer } from '../../transport/http/server.js';
import type { AppOptions } from '../../app.js';
import type { Capability } from '../capability.js';
import { buildChat } from '../chat.js';
import { openClients } from '../clients.js';
import { outgoingWebhookPoster } from '../correlation.js';
import { openHttp } from '../http.js';
import { buildHunt } from '../hunt.js';
import { idleCollection } from '../idle-gc.js';
import { buildChannels } from '../notify.js';
import type { Base, CorrelationPart, NotifyPart } from '../parts.js';
import { boundedShutdown } from '../shutdown.js';
import { leaderWork } from './leader-work.js';
import { postgresMetricsSources } from './metrics.js';

/** Connections of the sightings intake, beside DATABASE_POOL_SIZE: one group commits while the next is sent. */
const INTAKE_CONNECTIONS = 2;

/** At the end of a shutdown, the longest wait for the loops' work under way before the pool ends (within the state's reserve). */
const CLOSE_GRACE_MS = 1500;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** XDR catch-up passes (each instance mirrors the incidents no other instance holds). */
const XDR_PASS_SECONDS = 5;

export interface SharedApp {
  config: Config;
  http: RunningHttpServer;
  /** This process among the instances sharing the database (host and pid; in logs and pg_stat_activity). */
  instance: string;
  isLeader(): boolean;
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * The composition root in PostgreSQL mode (DATABASE_URL): several instances share one database.
 * Every instance takes sightings (202 once committed), applies them, delivers notifications,
 * mirrors to XDR and answers chat; the one holding the leader lock also runs the schedule, hunt
 * resume, status sync, module polls and retention (leader-work.ts). Chat, the hunt and the HTTP
 * server are built by the same code as on lowdb, over the PostgreSQL parts.
 */
export async function startSharedApp(opts: AppOptions): Promise<SharedApp> {
  const { config } = opts;
  const database = config.database!;
  const clock = opts.clock ?? systemClock;
  const instance = `${hostname()}-${process.pid}`;
  const logger = (opts.logger ?? createLogger({ level: config.logLevel, secrets: secretsOf(config) })).child({ instance });
  const log = logger.child({ component: 'app' });

  const pool = createPool({ url: database.url, max: database.poolSize, applicationName: `sightline ${instance}`, logger });
  try {
    await migrate(pool, { logger });
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const store = await PostgresControlStore.open(pool, { logger: logger.child({ component: 'control-store' }) });
  const base: Base = {
    config,
    clock,
    logger,
    store,
    ...(await openClients(config, logger)),
    storeReadiness: () => ({ ok: store.writable, detail: store.writable ? undefined : 'PostgreSQL refused the last write; check DATABASE_URL and that the server is running' }),
  };

  // Notifications: queued in the database, delivered by every instance (one sender per room at a time).
  let shared: SharedCorrelation | undefined;
  const channels = buildChannels(
    base,
    (incidentId, messageId) => shared?.recordCardMessage(incidentId, messageId),
    (work) => withAdvisoryLock(pool, LOCKS.rooms, 'looking up a Webex room', work),
  );
  const { notifier, delivery } = postgresNotifications({ pool, url: database.url, channels, logger: logger.child({ component: 'outbox' }), clock, applicationName: `sightline-outbox ${instance}` });
  const notify: NotifyPart = { name: 'notify', outbox: notifier, channels, start: () => delivery.start(), stop: (step) => step('outbox', () => delivery.stop()) };

  // Correlation: the shared sightings log, this instance's apply loop and XDR mirror.
  const { correlation: cc, xdr: xdrConfig } = config;
  // The 202 path's own connections: appends never queue behind the loops' (which hold theirs while Webex or XDR answer).
  const intakePool = createPool({ url: database.url, max: INTAKE_CONNECTIONS, applicationName: `sightline-intake ${instance}`, logger });
  const sightingsLog = new PostgresSightingsLog(pool, { logger, appendPool: intakePool, groupsInFlight: INTAKE_CONNECTIONS });
  const incidents = new PostgresCorrelationStore(pool, sightingsLog, {
    rungs: parseLadder(cc.ladder, { webhookUrl: cc.webhookUrl }),
    rejectedIsClosed: cc.rejectedIsClosed,
    dryRun: cc.dryRun,
  });
  const xdrQueue = new PostgresXdrQueue(pool, { newestSightings: cc.mirrorNewestSightings });
  const mirror = new PostgresXdrMirror({
    queue: xdrQueue,
    xdr: base.xdr,
    logger,
    ...(cc.xdrSeverity ? { severity: parseSeverityRule(cc.xdrSeverity) } : {}),
    // One allowance for every instance: XDR's budget is the organisation's (migration 11).
    allowance: sharedMirrorAllowance(pool, cc.mirrorCallsPerHour, clock, logger.child({ component: 'xdr-mirror' })),
  });
  shared = new SharedCorrelation({
    store: incidents,
    notifier,
    xdr: base.xdr,
    logger: logger.child({ component: 'correlation' }),
    config: cc,
    incidentUrlTemplate: xdrConfig.incidentUrlTemplate,
    webhookPoster: outgoingWebhookPoster(logger),
  });
  const loop = shared;
  const correlation: CorrelationPart = {
    name: 'correlation',
    intake: new PostgresIntake(sightingsLog, loop),
    incidents: new PostgresIncidentService(incidents, loop),
    openIncident: pgOpenIncidentLookup(incidents, loop),
    syncPending: () => mirror.syncPending(),
    syncStatuses: () => loop.syncStatuses(),
    stopXdr: () => mirror.stop(),
    metricsSources: (names, outbox) => postgresMetricsSources(pool, outbox, names, logger),
    start: () => {
      loop.start();
      mirror.start(XDR_PASS_SECONDS);
    },
    stop: async (step) => {
      // Side by side: neither waits for the other, and each only finishes what it has under way.
      await Promise.all([step('xdr', () => mirror.stop()), step('correlation', () => loop.stop())]);
      await step('sightings', () => sightingsLog.flushed());
    },
  };

  // The hunt runs on the leader (schedule, resume) or where `hunt now` was asked: one at a time across instances.
  const hunt = buildHunt(base, notify, { lock: postgresHuntLock(database.url, logger), deadLetters: () => xdrQueue.deadLetters() });
  const huntStop: Capability = { name: 'hunt', stop: async (step) => void (await hunt.stop?.(step)) };
  const claims = chatClaims(pool, instance);
  const chat = buildChat(base, { notify, correlation, hunt, claimEvent: (id) => claims.claim(id), keepWebhooksOnStop: true }, log);
  const leader = leaderWork(base, { pool, correlation, hunt, instance, beforeWork: () => store.refresh() }, log);
  const http = await openHttp(base, {
    notify,
    correlation,
    hunt,
    chat,
    readiness: {
      database: async () => {
        try {
          await pool.query('SELECT 1');
          return { ok: true, detail: leader.isLeader ? 'this instance is the leader' : 'this instance is a standby' };
        } catch (err) {
          return { ok: false, detail: poolError(pool, err, 'checking readiness').userMessage };
        }
      },
      // Only the leader arms the schedule; a standby is ready without it.
      schedule: () =>
        leader.isLeader
          ? { ok: hunt.schedule.armed, detail: hunt.schedule.armed ? `next hunt ${hunt.schedule.nextRun()?.toISOString()}` : 'the weekly schedule is not armed' }
          : { ok: true, detail: 'a standby: the leader runs the weekly schedule' },
    },
  });

  const capabilities: Capability[] = [notify, correlation, huntStop, chat, leader, http, idleCollection(log)];
  for (const capability of capabilities) await capability.start?.();
  log.info({ url: http.server.url, database: database.url.replace(/\/\/[^@]*@/, '//'), webex: config.webex.enabled ? config.webex.mode : 'off', email: config.email.enabled }, 'Sightline is ready (PostgreSQL)');

  return {
    config,
    http: http.server,
    instance,
    isLeader: () => leader.isLeader,
    stop: boundedShutdown({
      capabilities,
      closeState: async () => {
        // The drain may have run out of time with loops still going: they start nothing more, and
        // what they have under way gets a moment to finish, before the pool ends under them
        // (which used to fail every rung action and update still queued, and log each).
        await Promise.race([Promise.all([loop.abandon(), mirror.stop(), delivery.stop()]), delay(CLOSE_GRACE_MS)]);
        await store.close();
        await Promise.all([pool.end(), intakePool.end()]);
      },
      log,
    }),
  };
}
