import type { WebexApi, WebexPerson } from './clients/webex/port.js';
import type { Config } from './config/load.js';
import type { Clock } from './core/clock.js';
import type { Logger } from './core/logger.js';
import type { BotDispatcher } from './bot/dispatcher.js';
import type { CorrelationEngine } from './domain/correlation/engine.js';
import type { XdrPort } from './domain/ports/xdr.js';
import type { Outbox } from './notify/outbox.js';
import type { HuntRunner } from './services/hunt-runner.js';
import type { HuntSchedule } from './services/scheduler.js';
import type { TalosSourcesHunt } from './services/talos-sources.js';
import type { Investigator } from './services/investigator.js';
import type { JournaledIntake } from './store/journal/intake.js';
import type { LowdbStore } from './store/lowdb-store.js';
import type { RunningHttpServer } from './transport/http/server.js';
import { buildChat } from './app/chat.js';
import { openCorrelation } from './app/correlation.js';
import { openHttp } from './app/http.js';
import { buildHunt } from './app/hunt.js';
import { openInfrastructure } from './app/infrastructure.js';
import { openNotify } from './app/notify.js';
import { boundedShutdown } from './app/shutdown.js';
import { buildTimers } from './app/timers.js';
import { idleCollection } from './app/idle-gc.js';

export { WEBEX_WEBHOOK_PATH } from './app/chat.js';

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
 * The composition root: opens each capability (src/app/) from the configuration, then
 * starts them in order; shutdown stops them in the reverse order, bounded in time. The
 * order is what keeps both safe:
 * - the outbox is opened first and stops last: everything else may notify;
 * - the intake's journal replay starts before the HTTP server listens, and the server
 *   listens before the others start, so /healthz and the 202 path answer meanwhile;
 * - on stop, the server closes first, then the timers, then chat: no new input while the
 *   hunt, the intake and the engine drain into the outbox.
 */
export async function startApp(opts: AppOptions): Promise<App> {
  const infra = await openInfrastructure(opts);
  const log = infra.logger.child({ component: 'app' });
  const notify = await openNotify(infra);
  const correlation = openCorrelation(infra, notify);
  const hunt = buildHunt(infra, notify);
  const chat = buildChat(infra, { notify, correlation, hunt }, log);
  const timers = buildTimers(infra, { correlation, hunt }, log);
  const http = await openHttp(infra, { notify, correlation, hunt, chat });

  const capabilities = [infra, notify, correlation, hunt, chat, timers, http, idleCollection(log)];
  for (const capability of capabilities) await capability.start?.();
  const { config } = infra;
  log.info({ url: http.server.url, webex: config.webex.enabled ? config.webex.mode : 'off', email: config.email.enabled }, 'Sightline is ready');

  return {
    config,
    http: http.server,
    store: infra.store,
    xdr: infra.xdr,
    hunts: hunt.hunts,
    talosHunts: hunt.talosHunts,
    schedule: hunt.schedule,
    engine: correlation.engine,
    intake: correlation.intake,
    outbox: notify.outbox,
    investigator: chat.investigator,
    webex: chat.webex,
    stop: boundedShutdown({ capabilities, closeState: () => infra.closeState(), log }),
  };
}
