import { HttpClient } from '../clients/http.js';
import type { Logger } from '../core/logger.js';
import { CorrelationEngine } from '../domain/correlation/engine.js';
import { CorrelationIncidentService } from '../domain/correlation/incident-service.js';
import { JournaledIntake } from '../store/journal/intake.js';
import type { Infrastructure } from './infrastructure.js';
import type { Notify } from './notify.js';
import type { CorrelationPart } from './parts.js';
import { openIncidentLookup } from '../services/open-incident.js';
import { appMetricsSources } from '../observability/app-sources.js';

/** Sightings in, incidents out: the journaled intake feeding the correlation engine. */
export interface Correlation extends CorrelationPart {
  engine: CorrelationEngine;
  incidents: CorrelationIncidentService;
  intake: JournaledIntake;
}

/** Builds the engine and the intake, and starts the intake's journal replay. */
export function openCorrelation(infra: Infrastructure, notify: Notify): Correlation {
  const { config, store, xdr, clock, logger, journal } = infra;
  const engine = new CorrelationEngine({
    store,
    xdr,
    notifier: notify.outbox,
    clock,
    logger: logger.child({ component: 'correlation' }),
    config: config.correlation,
    incidentUrlTemplate: config.xdr.incidentUrlTemplate,
    webhookPoster: outgoingWebhookPoster(logger),
  });
  notify.onIncidentCardPosted((incidentId, messageId) => engine.recordCardMessage(incidentId, messageId));
  const intake = new JournaledIntake({ journal, processor: engine, clock, logger: logger.child({ component: 'intake' }) });

  // The journal replay runs behind the listening server: it can take minutes after a crash with a
  // backlog (each replayed sighting is mirrored to XDR), and /healthz plus the 202 path must answer
  // meanwhile. It MUST start before the server accepts anything (the HTTP capability is opened after
  // this one): recover() puts the intake in catch-up mode, so sightings accepted meanwhile are applied
  // after the backlog, in seq order (applied out of order, the engine would skip the older ones as replays).
  void intake.recover();

  return {
    name: 'correlation',
    engine,
    incidents: new CorrelationIncidentService(engine),
    intake,
    openIncident: openIncidentLookup(engine),
    syncPending: () => engine.syncPending(),
    syncStatuses: () => engine.syncStatuses(),
    stopXdr: () => engine.stopXdr(),
    metricsSources: (channels, outbox) =>
      appMetricsSources({ correlation: () => engine.state(), journalLastSeq: () => journal.lastSeq(), state: () => store.get(), channels, outbox: () => outbox.queueStats() }),
    stop: async (step) => {
      await step('intake', () => intake.stop());
      await step('correlation', () => engine.stop());
    },
  };
}

/** The ladder's "webhook" action: POST JSON to the configured URL (no retries on 5xx: it may trigger a playbook). */
export function outgoingWebhookPoster(logger: Logger): (url: string, body: unknown) => Promise<void> {
  const http = new HttpClient({ service: 'Outgoing webhook', logger });
  return async (url, body) => {
    await http.send({ method: 'POST', url, body, idempotent: false });
  };
}
