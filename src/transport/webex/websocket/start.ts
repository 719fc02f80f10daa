import type { BotEventHandler } from '../../../bot/events.js';
import type { WebexApi, WebexPerson } from '../../../clients/webex/port.js';
import type { Config } from '../../../config/load.js';
import type { Logger } from '../../../core/logger.js';
import { WebsocketPump } from './pump.js';
import { ActivityReader } from './reader.js';
import { SdkSocketFactory } from './sdk-socket.js';

/** Websocket mode from the configuration: the SDK socket, the reader on the bot's own client, the pump (not started). */
export function createWebsocketPump(opts: { webex: Config['webex']; token: string; api: WebexApi; me: WebexPerson; handler: BotEventHandler; logger: Logger }): WebsocketPump {
  const { webex, logger } = opts;
  const maxMs = webex.reconnectMaxSeconds * 1000;
  // From 1 s, doubling; the SDK's backoff library needs its maximum strictly above its start.
  const initialMs = Math.min(1000, maxMs / 2);
  const pump = new WebsocketPump({
    factory: new SdkSocketFactory({ token: opts.token, apiBase: webex.apiBase, u2cBase: webex.u2cBase, proxyUrl: webex.proxyUrl, backoffMs: { reset: initialMs, max: maxMs }, logger }),
    reader: new ActivityReader({ api: opts.api, bot: opts.me, logger: logger.child({ component: 'webex-websocket' }) }),
    handler: opts.handler,
    logger,
    connectTimeoutMs: webex.connectTimeoutSeconds * 1000,
    backoff: { initialMs, maxMs },
  });
  return pump;
}
