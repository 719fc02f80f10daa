import type { Router } from 'express';
import { createHealthRouter } from '../transport/http/health.js';
import { createMetricsRouter } from '../transport/http/metrics-route.js';
import { startHttpServer, type RunningHttpServer } from '../transport/http/server.js';
import { createSightingsRouter } from '../transport/http/sightings/route.js';
import type { Capability } from './capability.js';
import type { Chat } from './chat.js';
import type { Hunt } from './hunt.js';
import type { Base, CorrelationPart, NotifyPart } from './parts.js';
import type { ReadinessCheck } from '../transport/http/health.js';

/** The one HTTP server: health and readiness, the sightings webhook, the Webex webhook, metrics. */
export interface Http extends Capability {
  server: RunningHttpServer;
}

/**
 * Listens as soon as it is opened, before the other capabilities start: /healthz and the 202
 * path answer during a long start (a journal replay, a missed hunt), and Webex webhooks are
 * registered (chat's start) once the server listens. Listed last, it is the first to close.
 */
export async function openHttp(
  infra: Base,
  parts: { notify: NotifyPart; correlation: CorrelationPart; hunt: Pick<Hunt, 'schedule'>; chat: Chat; readiness?: Record<string, ReadinessCheck> },
): Promise<Http> {
  const { config, xdr, clock, logger, metrics } = infra;
  const { outbox, channels } = parts.notify;
  const { intake } = parts.correlation;
  const { schedule } = parts.hunt;

  const routers: Router[] = [...parts.chat.routers];
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
    metrics.watch(parts.correlation.metricsSources(channels.map((c) => c.name), outbox));
    routers.push(createMetricsRouter({ metrics, token: config.metrics.token }));
  }
  const webexReachable = infra.webex?.api;
  routers.unshift(
    createHealthRouter({
      outbox: () => outbox.readiness(config.webex.outboxStallSeconds * 1000),
      store: () => infra.storeReadiness(),
      schedule: () => ({ ok: schedule.armed, detail: schedule.armed ? `next hunt ${schedule.nextRun()?.toISOString()}` : 'the weekly schedule is not armed' }),
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
      ...(config.webex.enabled && config.webex.mode === 'websocket' ? { webexWebsocket: parts.chat.websocketReadiness } : {}),
      ...parts.readiness,
    }),
  );

  const server = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    rateLimitPerMinute: config.http.rateLimitPerMinute,
    logger: logger.child({ component: 'http' }),
    routers,
  });
  return { name: 'http', server, stop: (step) => step('http', () => server.close()) };
}
