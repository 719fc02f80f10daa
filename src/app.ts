import { Router } from 'express';
import { TalosFetcher } from './clients/talos/fetcher.js';
import { HttpClient } from './clients/http.js';
import { createWebexHttpClient, WebexHttpApi } from './clients/webex/api.js';
import type { WebexApi, WebexPerson } from './clients/webex/port.js';
import { RoomDirectory } from './clients/webex/rooms.js';
import { throttlePosts } from './clients/webex/throttle.js';
import { casebookUrl, XdrHttpClient } from './clients/xdr/client.js';
import type { XdrPort } from './clients/xdr/port.js';
import { secretsOf, type Config } from './config/load.js';
import { systemClock, type Clock } from './core/clock.js';
import { createLogger, type Logger } from './core/logger.js';
import { BotDispatcher } from './bot/dispatcher.js';
import { cardReplies } from './bot/commands/card-replies.js';
import { CorrelationEngine } from './domain/correlation/engine.js';
import { CorrelationIncidentService } from './domain/correlation/incident-service.js';
import { PeriodicTask } from './modules/periodic.js';
import { RssModule } from './modules/rss/poller.js';
import { XModule } from './modules/x/search.js';
import { EmailChannel } from './notify/email/channel.js';
import type { Channel } from './notify/notification.js';
import { Outbox } from './notify/outbox.js';
import { stormPolicyFor } from './notify/storm.js';
import { DeliveryReceipts, receiptsPathFor } from './notify/receipts.js';
import { WebexChannel } from './notify/webex-channel.js';
import { HuntRunner } from './services/hunt-runner.js';
import { stateEtagStore, TalosPostsHunt } from './services/talos-posts-hunt.js';
import { TalosSourcesHunt } from './services/talos-sources.js';
import { TalosUriLoader } from './services/talos-uri-loader.js';
import { githubClientFor } from './clients/github/from-config.js';
import { HuntSchedule } from './services/scheduler.js';
import { Investigator } from './services/investigator.js';
import { openIncidentLookup } from './services/open-incident.js';
import { ResponseActionDesk } from './services/response-actions.js';
import { LowdbStore } from './store/lowdb-store.js';
import { createHealthRouter } from './transport/http/health.js';
import { startHttpServer, type RunningHttpServer } from './transport/http/server.js';
import { JournaledIntake } from './transport/http/sightings/intake.js';
import { journalPathFor, SightingJournal } from './transport/http/sightings/journal.js';
import { createSightingsRouter } from './transport/http/sightings/route.js';
import { useOutboundProxy } from './clients/proxy.js';
import { createWebsocketPump } from './transport/webex/websocket/start.js';
import type { WebsocketPump } from './transport/webex/websocket/pump.js';
import { createWebexWebhookRouter, registerWebhooks, unregisterWebhooks } from './transport/webex/webhook-route.js';
import { appMetricsSources } from './observability/app-sources.js';
import { Metrics } from './observability/metrics.js';
import { startIdleGc } from './observability/idle-gc.js';
import { createMetricsRouter } from './transport/http/metrics-route.js';
import type { HuntDeps } from './services/hunt-deps.js';

export const WEBEX_WEBHOOK_PATH = '/webex/webhook';
const WEBHOOK_NAME = 'sightline';

export interface AppOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
}

export interface App {
  config: Config;
  http: RunningHttpServer;
  store: LowdbStore;
  xdr: XdrPort;
  hunts: HuntRunner;
  /** The weekly hunt over every Talos source (TALOS_SOURCES): chat's hunt commands and the schedule use it. */
  talosHunts: TalosSourcesHunt;
  schedule: HuntSchedule;
  engine: CorrelationEngine;
  intake: JournaledIntake;
  outbox: Outbox;
  webex?: { api: WebexApi & { posted: number }; me: WebexPerson; dispatcher: BotDispatcher };
  /** `investigate` from chat and the response actions its cards offer. */
  investigator: Investigator;
  /** Drains in-flight work and stops everything; bounded by `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * The composition root: builds every part from the configuration, wires the
 * ports together and starts the one process that runs the chat bot, the
 * schedule, the sightings webhook and the modules.
 */
export async function startApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger({ level: config.logLevel, secrets: secretsOf(config) });
  const log = logger.child({ component: 'app' });

  useOutboundProxy(config.webex.proxyUrl);
  const store = await LowdbStore.open(config.stateFile);
  // Metrics (METRICS_ENABLED): one registry for this app; call sites get small recorders, gauges read state at scrape time.
  const metrics = config.metrics.enabled ? new Metrics() : undefined;
  const xdrClient = new XdrHttpClient({ xdr: config.xdr, logger });
  const xdr = metrics ? metrics.instrumentXdr(xdrClient) : xdrClient;
  const channels: Channel[] = [];
  if (config.email.enabled) channels.push(new EmailChannel({ config: config.email, logger: logger.child({ component: 'email' }) }));

  let webexApi: (WebexApi & { posted: number }) | undefined;
  let me: WebexPerson | undefined;
  let onCardPosted: ((incidentId: string, messageId: string) => Promise<void>) | undefined;
  if (config.webex.enabled && config.webex.token) {
    webexApi = throttlePosts(new WebexHttpApi({
        baseUrl: config.webex.apiBase,
        token: config.webex.token,
        logger,
        http: metrics ? createWebexHttpClient({ logger: logger.child({ component: 'webex-api' }), onAttempt: metrics.webexAttempt }) : undefined,
      }), config.webex.maxMessagesPerMinute);
    me = await webexApi.me();
    const rooms = new RoomDirectory({ api: webexApi, store, members: config.webex.roomMembers, logger });
    channels.push(
      new WebexChannel({
        api: webexApi,
        rooms,
        huntRoom: config.webex.huntRoom,
        incidentsRoom: config.webex.incidentsRoom,
        logger: logger.child({ component: 'webex-channel' }),
        onPosted: (n, messageId) => (n.kind === 'incident_opened' ? onCardPosted?.(n.incident.id, messageId) : undefined),
      }),
    );
  }

  const receipts = await DeliveryReceipts.open(receiptsPathFor(config.stateFile));
  const storm = config.webex.storm;
  const stormPolicy = storm.enabled
    ? stormPolicyFor({ messagesPerMinute: config.webex.maxMessagesPerMinute, thresholdMinutes: storm.thresholdMinutes, digestSeconds: storm.digestSeconds })
    : undefined;
  const outbox = new Outbox(store, channels, clock, logger.child({ component: 'outbox' }), receipts, stormPolicy);
  // Before anything can queue or deliver: what was delivered just before a crash is not sent again.
  await outbox.recover();
  const engine = new CorrelationEngine({
    store,
    xdr,
    notifier: outbox,
    clock,
    logger: logger.child({ component: 'correlation' }),
    config: config.correlation,
    incidentUrlTemplate: config.xdr.incidentUrlTemplate,
    webhookPoster: outgoingWebhookPoster(logger),
  });
  onCardPosted = (incidentId, messageId) => engine.recordCardMessage(incidentId, messageId);
  const incidents = new CorrelationIncidentService(engine);

  const journal = await SightingJournal.open({
    path: journalPathFor(config.stateFile),
    clock,
    logger,
    dedupeWindowSeconds: config.sightings.dedupeWindowSeconds,
    fsync: config.sightings.journalFsync,
  });
  const intake = new JournaledIntake({ journal, processor: engine, clock, logger: logger.child({ component: 'intake' }) });

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
  const postsAbort = new AbortController();
  const talosHunts = new TalosSourcesHunt({
    runner: hunts,
    posts: new TalosPostsHunt({
      ...huntDeps,
      github: githubClientFor(config, { clock, logger, etags: stateEtagStore(store) }),
      signal: postsAbort.signal,
    }),
    store,
    notifier: outbox,
    clock,
    logger,
    config,
  });
  schedule = new HuntSchedule(config.schedule, talosHunts, store, clock, logger.child({ component: 'schedule' }));

  const investigator = new Investigator({
    xdr,
    desk: new ResponseActionDesk({ store, xdr, clock, logger: logger.child({ component: 'response-actions' }) }),
    clock,
    logger,
    maxObservables: config.investigate.maxObservables,
    cacheSeconds: config.investigate.cacheSeconds,
    batchSize: config.xdr.batchSize,
    excludedModules: config.xdr.excludedModules,
    cleanRule: config.xdr.cleanRule,
    incidentFor: openIncidentLookup(engine),
  });

  const routers: Router[] = [];
  let dispatcher: BotDispatcher | undefined;
  if (webexApi && me) {
    dispatcher = new BotDispatcher({
      api: webexApi,
      hunts: talosHunts,
      incidents,
      policy: { allowedRooms: config.webex.allowedRooms, allowedDomains: config.webex.allowedDomains, admins: config.webex.admins },
      botPersonId: me.id,
      botNames: [me.displayName],
      huntRoomTitle: config.webex.huntRoom,
      outbox,
      replies: cardReplies(),
      investigations: investigator,
      logger: logger.child({ component: 'bot' }),
    });
    if (config.webex.mode === 'webhook') {
      const hook = Router();
      hook.use(
        WEBEX_WEBHOOK_PATH,
        createWebexWebhookRouter({
          secret: config.webex.webhookSecret!,
          api: webexApi,
          botPersonId: me.id,
          botDisplayName: me.displayName,
          handler: dispatcher,
          logger: logger.child({ component: 'webex-webhook' }),
          clock,
          maxBodyBytes: config.http.bodyLimitBytes,
        }),
      );
      routers.push(hook);
    }
  }
  routers.push(
    createSightingsRouter({
      intake,
      auth: { hmacSecret: config.sightings.hmacSecret, bearerToken: config.sightings.bearerToken },
      bodyLimitBytes: config.http.bodyLimitBytes,
      maxBatch: config.sightings.maxBatch,
      logger: logger.child({ component: 'sightings' }),
      clock,
      metrics: metrics?.sightings,
    }),
  );
  if (metrics) {
    metrics.watch(
      appMetricsSources({ correlation: () => engine.state(), journalLastSeq: () => journal.lastSeq(), state: () => store.get(), channels: channels.map((c) => c.name), outbox: () => outbox.queueStats() }),
    );
    routers.push(createMetricsRouter({ metrics, token: config.metrics.token }));
  }
  const webexReachable = webexApi;
  let pump: WebsocketPump | undefined;
  routers.unshift(
    createHealthRouter({
      outbox: () => outbox.readiness(config.webex.outboxStallSeconds * 1000),
      store: () => ({ ok: store.writable, detail: store.writable ? undefined : 'the state file could not be written; check disk space and permissions' }),
      schedule: () => ({ ok: schedule!.armed, detail: schedule!.armed ? `next hunt ${schedule!.nextRun()?.toISOString()}` : 'the weekly schedule is not armed' }),
      xdr: async () => {
        try {
          // A real round trip (token + CTIA lookup): deliberate([]) answers without calling XDR.
          await xdr.findIncidentsByExternalId('sightline-readiness-probe');
          return { ok: true };
        } catch (err) {
          return { ok: false, detail: (err as { userMessage?: string }).userMessage ?? (err as Error).message };
        }
      },
      webex: async () => {
        if (!webexReachable) return { ok: true, detail: 'Webex is turned off' };
        try {
          await webexReachable.me();
          return { ok: true };
        } catch (err) {
          return { ok: false, detail: (err as { userMessage?: string }).userMessage ?? (err as Error).message };
        }
      },
      ...(config.webex.enabled && config.webex.mode === 'websocket' ? { webexWebsocket: () => pump?.readiness() ?? { ok: false, detail: 'the Webex websocket is starting' } } : {}),
    }),
  );

  // The journal replay runs behind the listening server: it can take minutes after a crash with a
  // backlog (each replayed sighting is mirrored to XDR), and /healthz plus the 202 path must answer
  // meanwhile. It MUST start before the server accepts anything: recover() puts the intake in
  // catch-up mode, so sightings accepted meanwhile are applied after the backlog, in seq order
  // (applied out of order, the engine would skip the older ones as replays).
  void intake.recover();
  const http = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    rateLimitPerMinute: config.http.rateLimitPerMinute,
    logger: logger.child({ component: 'http' }),
    routers,
  });

  if (webexApi && dispatcher && config.webex.mode === 'webhook' && config.http.publicUrl && config.webex.webhookSecret) {
    await registerWebhooks(webexApi, { targetUrl: new URL(WEBEX_WEBHOOK_PATH, config.http.publicUrl).href, secret: config.webex.webhookSecret, name: WEBHOOK_NAME });
  } else if (webexApi && dispatcher && me && config.webex.token) {
    // Not awaited: the schedule, the webhook and the outbox must not wait for Webex, and SIGTERM must find
    // the app. The pump logs why it could not connect (after WEBEX_CONNECT_TIMEOUT_SECONDS), retries with
    // backoff, and /readyz names it until it is connected.
    pump = createWebsocketPump({ webex: config.webex, token: config.webex.token, api: webexApi, me, handler: dispatcher, logger });
    pump.start().catch((err: unknown) => log.error({ err }, 'the Webex websocket could not start; chat commands are not received'));
  }

  outbox.start();
  await hunts.start();
  talosHunts.start();
  await schedule.start();
  const xdrSync = new PeriodicTask(() => engine.syncPending(), log);
  // Catch-up passes: XDR writes that failed (or queued up behind a burst) are retried every few seconds.
  xdrSync.start(5);
  const statusSync = new PeriodicTask(() => engine.syncStatuses(), log);
  if (config.correlation.statusSyncSeconds > 0) statusSync.start(config.correlation.statusSyncSeconds);
  const moduleDeps = { xdr, intake, store, clock, excludedModules: config.xdr.excludedModules, cleanRule: config.xdr.cleanRule };
  const rss = config.modules.rssFeeds.length > 0 ? new RssModule({ ...moduleDeps, feeds: config.modules.rssFeeds, http: undefined, logger: logger.child({ component: 'rss' }) }) : undefined;
  rss?.start(config.modules.rssPollSeconds);
  const x = config.modules.x.bearerToken ? new XModule({ ...moduleDeps, x: config.modules.x, logger: logger.child({ component: 'x' }) }) : undefined;
  x?.start(config.modules.x.pollSeconds);

  log.info({ url: http.url, webex: config.webex.enabled ? config.webex.mode : 'off', email: config.email.enabled }, 'Sightline is ready');
  // Returns the garbage of loading the state, and of a flood once it is over, while the process is idle (issue 14).
  const idleGc = startIdleGc({ logger: log });

  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs = 9000): Promise<void> => {
    stopping ??= (async () => {
      idleGc.stop();
      // The last state write needs its share of the time: a large state takes a second or two.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, timeoutMs - STATE_WRITE_RESERVE_MS)).unref());
      store.hurry();
      // Each step is timed in the log, so an operator can see what a slow shutdown waited for.
      const steps: Record<string, number> = {};
      const step = async (name: string, work: () => Promise<unknown> | unknown): Promise<void> => {
        const t0 = performance.now();
        await work();
        steps[name] = Math.round(performance.now() - t0);
      };
      const drain = (async () => {
        schedule!.stop();
        await step('http', () => http.close());
        // engine.stopXdr() first: the periodic tasks wait for their current run, which must not start more XDR calls.
        await step('timers', () => Promise.allSettled([engine.stopXdr(), rss?.stop(), x?.stop(), xdrSync.stop(), statusSync.stop()]));
        if (pump) await step('webex', () => pump.stop().catch(() => undefined));
        if (webexApi && config.webex.mode === 'webhook') await step('webhooks', () => unregisterWebhooks(webexApi, { name: WEBHOOK_NAME }).catch(() => undefined));
        postsAbort.abort(new Error('Sightline is shutting down'));
        await step('hunt', () => Promise.all([hunts.stop(), talosHunts.idle().catch(() => undefined)]));
        await step('intake', () => intake.stop());
        await step('correlation', () => engine.stop());
        await step('outbox', () => outbox.stop().then(() => receipts.close()));
        await step('journal', () => journal.close());
      })();
      const finished = await Promise.race([drain.then(() => true), deadline.then(() => false)]);
      if (!finished) log.warn({ steps }, 'shutdown: in-flight work did not finish in time; it resumes from the journal and the state on the next start');
      await step('state', () => store.close());
      log.info({ steps }, 'Sightline stopped');
    })();
    return stopping;
  };

  return { config, http, store, xdr, hunts, talosHunts, schedule, engine, intake, outbox, investigator, webex: webexApi && me && dispatcher ? { api: webexApi, me, dispatcher } : undefined, stop };
}

/** Of the shutdown deadline, the time kept for writing the state file last. */
const STATE_WRITE_RESERVE_MS = 2000;

/** The ladder's "webhook" action: POST JSON to the configured URL (no retries on 5xx: it may trigger a playbook). */
function outgoingWebhookPoster(logger: Logger): (url: string, body: unknown) => Promise<void> {
  const http = new HttpClient({ service: 'Outgoing webhook', logger });
  return async (url, body) => {
    await http.send({ method: 'POST', url, body, idempotent: false });
  };
}
