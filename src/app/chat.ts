import { Router } from 'express';
import type { WebexApi, WebexPerson } from '../clients/webex/port.js';
import type { Logger } from '../core/logger.js';
import { BotDispatcher } from '../bot/dispatcher.js';
import { answeredOnce } from '../bot/answered-once.js';
import { cardReplies } from '../bot/commands/card-replies.js';
import { Investigator } from '../services/investigator.js';
import { ResponseActionDesk } from '../services/response-actions.js';
import type { ReadinessCheck } from '../transport/http/health.js';
import type { WebsocketPump } from '../transport/webex/websocket/pump.js';
import { createWebsocketPump } from '../transport/webex/websocket/start.js';
import { createWebexWebhookRouter, registerWebhooks, unregisterWebhooks } from '../transport/webex/webhook-route.js';
import type { Capability } from './capability.js';
import type { Hunt } from './hunt.js';
import type { Base, CorrelationPart, NotifyPart } from './parts.js';

export const WEBEX_WEBHOOK_PATH = '/webex/webhook';
const WEBHOOK_NAME = 'sightline';

/** The Webex room conversation: the command dispatcher, how Webex reaches it (webhook or websocket), `investigate`. */
export interface Chat extends Capability {
  /** `investigate` from chat and the response actions its cards offer (built with Webex off too). */
  investigator: Investigator;
  /** Only when Webex is on. */
  webex?: { api: WebexApi & { posted: number }; me: WebexPerson; dispatcher: BotDispatcher };
  /** The Webex webhook route, in webhook mode; served by the HTTP capability. */
  routers: Router[];
  /** For /readyz in websocket mode: connected or not. */
  websocketReadiness: ReadinessCheck;
}

export function buildChat(
  infra: Base,
  parts: {
    notify: NotifyPart;
    correlation: Pick<CorrelationPart, 'incidents' | 'openIncident'>;
    hunt: Hunt;
    /** Several instances (PostgreSQL mode): true for the one instance that answers this event. */
    claimEvent?: (eventId: string) => Promise<boolean>;
    /** Several instances share one webhook (PostgreSQL mode): one stopping must not unregister it for the others. */
    keepWebhooksOnStop?: boolean;
  },
  log: Logger,
): Chat {
  const { config, store, xdr, clock, logger } = infra;
  const { outbox } = parts.notify;
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
    incidentFor: parts.correlation.openIncident,
  });

  const routers: Router[] = [];
  let pump: WebsocketPump | undefined;
  const websocketReadiness: ReadinessCheck = () => pump?.readiness() ?? { ok: false, detail: 'the Webex websocket is starting' };
  if (!infra.webex) return { name: 'chat', investigator, routers, websocketReadiness };

  const { api, me } = infra.webex;
  const dispatcher = new BotDispatcher({
    api,
    hunts: parts.hunt.commands,
    incidents: parts.correlation.incidents,
    policy: { allowedRooms: config.webex.allowedRooms, allowedDomains: config.webex.allowedDomains, admins: config.webex.admins },
    botPersonId: me.id,
    botNames: [me.displayName],
    huntRoomTitle: config.webex.huntRoom,
    outbox,
    replies: cardReplies(),
    investigations: investigator,
    logger: logger.child({ component: 'bot' }),
  });
  const handler = parts.claimEvent ? answeredOnce(dispatcher, parts.claimEvent, log) : dispatcher;
  if (config.webex.mode === 'webhook') {
    const hook = Router();
    hook.use(
      WEBEX_WEBHOOK_PATH,
      createWebexWebhookRouter({
        secret: config.webex.webhookSecret!,
        api,
        botPersonId: me.id,
        botDisplayName: me.displayName,
        handler,
        logger: logger.child({ component: 'webex-webhook' }),
        clock,
        maxBodyBytes: config.http.bodyLimitBytes,
      }),
    );
    routers.push(hook);
  }

  return {
    name: 'chat',
    investigator,
    webex: { api, me, dispatcher },
    routers,
    websocketReadiness,
    // The HTTP server already listens (it is opened before any capability starts): Webex may deliver as soon as this registers.
    start: async () => {
      if (config.webex.mode === 'webhook' && config.http.publicUrl && config.webex.webhookSecret) {
        await registerWebhooks(api, { targetUrl: new URL(WEBEX_WEBHOOK_PATH, config.http.publicUrl).href, secret: config.webex.webhookSecret, name: WEBHOOK_NAME });
      } else if (config.webex.token) {
        // Not awaited: the schedule, the webhook and the outbox must not wait for Webex, and SIGTERM must find
        // the app. The pump logs why it could not connect (after WEBEX_CONNECT_TIMEOUT_SECONDS), retries with
        // backoff, and /readyz names it until it is connected.
        pump = createWebsocketPump({ webex: config.webex, token: config.webex.token, api, me, handler, logger });
        pump.start().catch((err: unknown) => log.error({ err }, 'the Webex websocket could not start; chat commands are not received'));
      }
    },
    stop: async (step) => {
      if (pump) await step('webex', () => pump!.stop().catch(() => undefined));
      if (config.webex.mode === 'webhook' && !parts.keepWebhooksOnStop) await step('webhooks', () => unregisterWebhooks(api, { name: WEBHOOK_NAME }).catch(() => undefined));
    },
  };
}
