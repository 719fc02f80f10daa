import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { BotDispatcher } from '../bot/dispatcher.js';
import type { OutboxView } from '../bot/commands/outbox-view.js';
import type { WebexApi, WebexPerson } from '../clients/webex/port.js';
import type { ThrottledWebexApi } from '../clients/webex/throttle.js';
import type { SightingIntake } from '../domain/correlation/intake.js';
import type { IncidentService } from '../domain/ports/services.js';
import type { XdrPort } from '../domain/ports/xdr.js';
import type { Channel, Notifier } from '../notify/notification.js';
import type { Metrics, MetricsSources } from '../observability/metrics.js';
import type { InvestigatorOptions } from '../services/investigator.js';
import type { Store } from '../store/store.js';
import type { Capability } from './capability.js';

/**
 * What the capabilities need of each other, whichever store runs underneath: the lowdb
 * composition (app.ts) and the PostgreSQL one (app/shared/) both hand these over, so chat,
 * the hunt, the timers and the HTTP server are built by the same code in both.
 */
export interface Base {
  config: Config;
  clock: Clock;
  logger: Logger;
  /** The state a hunt, the rooms, the modules and the investigate desk keep (the lowdb file, or PostgreSQL's control document). */
  store: Store;
  /** Only when METRICS_ENABLED. */
  metrics?: Metrics;
  xdr: XdrPort;
  /**
   * Only when Webex is on and has a token. Cards and digests go through `api.notifications`, held
   * below the post limit so chat replies keep a share of it (clients/webex/throttle.ts).
   */
  webex?: { api: ThrottledWebexApi; me: WebexPerson };
  /** For /readyz: can the store be written. */
  storeReadiness(): { ok: boolean; detail?: string };
}

/** The notification queue as the rest of the app uses it: queue, show (`outbox` command), readiness. */
export interface NotificationQueue extends Notifier, OutboxView {
  readiness(stallMs: number): { ok: boolean; detail?: string } | Promise<{ ok: boolean; detail?: string }>;
}

export interface NotifyPart extends Capability {
  outbox: NotificationQueue;
  channels: Channel[];
}

/** Sightings in, incidents out, as chat, the modules and the HTTP server see it. */
export interface CorrelationPart extends Capability {
  intake: SightingIntake;
  incidents: IncidentService;
  /** The open incident of a target key, for the investigation card. */
  openIncident: NonNullable<InvestigatorOptions['incidentFor']>;
  /** Pushes queued XDR changes (periodic catch-up). */
  syncPending(): Promise<unknown>;
  /** Closes here what was closed in the XDR console (leader only, in PostgreSQL mode). */
  syncStatuses(): Promise<unknown>;
  /** No new XDR call from the mirror or the status sync; the calls under way finish. */
  stopXdr(): Promise<void>;
  /** The gauges this part feeds (/metrics). */
  metricsSources(channels: readonly string[], outbox: NotificationQueue): MetricsSources;
}

export type ChatWebex = { api: WebexApi & { posted: number }; me: WebexPerson; dispatcher: BotDispatcher };
