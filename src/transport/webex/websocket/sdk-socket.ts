import { createRequire } from 'node:module';
import type { Logger } from '../../../core/logger.js';
import { bounded, type OfflineKind, type SocketConnection, type SocketEvents, type SocketFactory } from './socket-port.js';

/**
 * The Webex JS SDK (the one webex-node-bot-framework wraps) used for one thing only:
 * register a WDM device and hold the Mercury websocket (webex-websocket.md §1-§3).
 * None of its REST helpers are used: the framework's per-message lookups cost three to
 * six GETs, are not retried and drop the command on a 5xx (§4, §5.5).
 *
 * Its REST base follows WEBEX_API_BASE and its catalog WEBEX_U2C_BASE, passed as config
 * (the SDK otherwise reads HYDRA_SERVICE_URL once, when first loaded, and defaults to
 * api.ciscospark.com). HTTPS_PROXY reaches the websocket as an agent; the SDK's REST
 * calls (catalog, device) use `request`, which reads HTTPS_PROXY itself.
 */
export interface SdkSocketOptions {
  token: string;
  apiBase: string;
  u2cBase: string;
  proxyUrl?: string;
  /** The SDK's own reconnect backoff after a transient close (1001, 1006, …). */
  backoffMs: { reset: number; max: number };
  logger: Logger;
}

interface Mercury {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  on(event: string, fn: (...args: never[]) => void): void;
  off(event?: string, fn?: (...args: never[]) => void): void;
}

interface WebexSdk {
  internal: { mercury: Mercury; device: { register(): Promise<void>; unregister(): Promise<void>; url?: string } };
}

const require = createRequire(import.meta.url);

export class SdkSocketFactory implements SocketFactory {
  constructor(private readonly opts: SdkSocketOptions) {}

  open(events: SocketEvents): SocketConnection {
    const webex = this.init();
    const mercury = webex.internal.mercury;
    let closed = false;
    // After close() nothing is passed on: the SDK's own "offline" for our disconnect is not an outage.
    const guard =
      <A extends unknown[]>(fn: (...a: A) => void) =>
      (...a: A) => {
        if (!closed) fn(...a);
      };
    const offline = (kind: OfflineKind) => guard((e: { code?: number; reason?: string }) => events.offline(kind, e?.code ?? 0, e?.reason ?? ''));
    mercury.on('event:conversation.activity', guard((envelope: { data?: { activity?: unknown } }) => events.activity(envelope?.data?.activity)));
    mercury.on('online', guard(() => events.online()));
    mercury.on('offline.transient', offline('transient'));
    mercury.on('offline.permanent', offline('permanent'));
    mercury.on('offline.replaced', offline('replaced'));
    // Registered first and apart, so close() can wait for a registration still in flight
    // and delete the device it creates (else a stop during start-up leaves it behind).
    const registered = webex.internal.device.register();
    const ready = registered.then(() => (closed ? Promise.reject(new Error('closed')) : mercury.connect()));
    // Observed here so a rejection after a timed-out start is not unhandled.
    registered.catch(() => undefined);
    ready.catch(() => undefined);
    return {
      ready,
      close: async (timeoutMs) => {
        if (closed) return;
        closed = true;
        // One deadline for the three steps, so a shutdown waits at most `timeoutMs` here.
        const deadline = Date.now() + timeoutMs;
        const left = () => Math.max(1, deadline - Date.now());
        // disconnect() also aborts the SDK's retry loop; it can hang when the socket never opened (§5.1).
        await bounded(mercury.disconnect(), left(), undefined).catch((err: unknown) => this.opts.logger.debug({ err }, 'websocket disconnect failed'));
        await bounded(registered, left(), undefined).catch(() => undefined);
        await bounded(webex.internal.device.unregister(), left(), undefined).catch((err: unknown) =>
          this.opts.logger.warn({ err }, 'could not delete the Webex device registration; Webex expires it'),
        );
        mercury.off();
      },
    };
  }

  private init(): WebexSdk {
    const { apiBase, u2cBase } = this.opts;
    // The SDK reads these when first loaded; set them too, so every part agrees with the config.
    process.env['HYDRA_SERVICE_URL'] ??= apiBase;
    process.env['U2C_SERVICE_URL'] ??= u2cBase;
    // The SDK's REST calls (catalog, device) go through `request`, which reads the proxy from the environment only.
    if (this.opts.proxyUrl) process.env['HTTPS_PROXY'] ??= this.opts.proxyUrl;
    const Webex = require('webex') as { init(attrs: unknown): WebexSdk };
    return Webex.init({
      credentials: { access_token: this.opts.token },
      config: {
        // Our log lines are JSON; the SDK's plain lines would break them (§5.7). State changes are logged by the supervisor.
        logger: { level: 'silent' },
        hydra: apiBase,
        hydraServiceUrl: apiBase,
        services: { discovery: { hydra: apiBase, u2c: u2cBase } },
        device: { preDiscoveryServices: { hydra: apiBase, hydraServiceUrl: apiBase } },
        mercury: { backoffTimeReset: this.opts.backoffMs.reset, backoffTimeMax: this.opts.backoffMs.max },
        ...(this.opts.proxyUrl ? { defaultMercuryOptions: { agent: this.proxyAgent(this.opts.proxyUrl) } } : {}),
      },
    });
  }

  private proxyAgent(url: string): unknown {
    const { HttpsProxyAgent } = require('https-proxy-agent') as { HttpsProxyAgent: new (u: string) => unknown };
    return new HttpsProxyAgent(url);
  }
}
