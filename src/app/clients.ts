import { createWebexHttpClient, WebexHttpApi } from '../clients/webex/api.js';
import { throttlePosts } from '../clients/webex/throttle.js';
import { XdrHttpClient } from '../clients/xdr/client.js';
import { useOutboundProxy } from '../clients/proxy.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../core/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { Base } from './parts.js';

/** The outside clients every composition shares: XDR, Webex (when on), and the metrics registry (METRICS_ENABLED). */
export async function openClients(config: Config, logger: Logger): Promise<Pick<Base, 'metrics' | 'xdr' | 'webex'>> {
  useOutboundProxy(config.webex.proxyUrl);
  // Metrics (METRICS_ENABLED): one registry for this app; call sites get small recorders, gauges read state at scrape time.
  const metrics = config.metrics.enabled ? new Metrics() : undefined;
  const xdrClient = new XdrHttpClient({ xdr: config.xdr, logger });
  const xdr = metrics ? metrics.instrumentXdr(xdrClient) : xdrClient;

  let webex: Base['webex'];
  if (config.webex.enabled && config.webex.token) {
    const api = throttlePosts(
      new WebexHttpApi({
        baseUrl: config.webex.apiBase,
        token: config.webex.token,
        logger,
        http: metrics ? createWebexHttpClient({ logger: logger.child({ component: 'webex-api' }), onAttempt: metrics.webexAttempt }) : undefined,
      }),
      config.webex.maxMessagesPerMinute,
    );
    webex = { api, me: await api.me() };
  }
  return { ...(metrics ? { metrics } : {}), xdr, ...(webex ? { webex } : {}) };
}
