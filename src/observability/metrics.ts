import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { XdrPort } from '../domain/ports/xdr.js';

/**
 * Sightline's Prometheus metrics (`GET /metrics`, METRICS_ENABLED=true). One Registry per
 * app, never prom-client's global one, so several apps in one process (tests) do not collide.
 *
 * Two kinds of metric:
 * - events (counters, histograms) are recorded by the edge code through the small typed
 *   recorders below (`sightings`, `xdr`, `webexAttempt`, `hunts`);
 * - levels (gauges) are read at scrape time from `MetricsSources` callbacks, so the domain
 *   (correlator, journal, outbox) carries no metrics code at all.
 */
export interface MetricsSources {
  /** Sightings accepted into the journal but not yet applied by the correlator. */
  journalBacklog(): number;
  incidentsOpen(): number;
  /** XDR writes (sightings, incidents, patches, relationships, statuses) queued for the mirror. */
  xdrChangesWaiting(): number;
  /** Items waiting in the outbox, per channel name. */
  outboxDepth(): Record<string, number>;
  /** Per queue (a Webex room, or e-mail): how long its head has not moved, and whether it is in storm mode. */
  outboxQueues(): Array<{ channel: string; queue: string; stalledSeconds: number; storm: boolean }>;
  /** Notifications refused for good (dead letters) kept in the state. */
  outboxDeadLetters(): number;
}

/** Why the sightings webhook refused something; a request refused as a whole counts once. */
export type SightingRefusal = 'unauthorized' | 'malformed_json' | 'not_json' | 'too_large' | 'invalid' | 'other';

export interface SightingsRecorder {
  accepted(n: number): void;
  duplicates(n: number): void;
  refused(reason: SightingRefusal, n: number): void;
}

export type HuntOutcome = 'finished' | 'failed' | 'not_published';

export interface HuntRecorder {
  huntFinished(h: { outcome: HuntOutcome; seconds: number; observables: number }): void;
}

/** One HTTP attempt to Webex (retries included), as HttpClient's `onAttempt` reports it. */
export interface HttpAttempt {
  method: string;
  url: string;
  /** undefined when no answer came (connection refused, reset, timeout). */
  status?: number;
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export class Metrics {
  readonly registry = new Registry();
  private readonly sightingsAccepted: Counter;
  private readonly sightingsDuplicates: Counter;
  private readonly sightingsRefused: Counter<'reason'>;
  private readonly xdrCalls: Counter<'operation' | 'status'>;
  private readonly webexPosts: Counter;
  private readonly webexRateLimited: Counter<'status'>;
  private readonly huntsTotal: Counter<'outcome'>;
  private readonly huntSeconds: Histogram<'outcome'>;
  private readonly huntObservables: Counter;
  private sources: Partial<MetricsSources> = {};

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'sightline_' });
    const sources = () => this.sources;

    // ── Sightings intake ─────────────────────────────────────────────────────────────────
    this.sightingsAccepted = new Counter({ name: 'sightline_sightings_accepted_total', help: 'Sightings stored durably (answered 202), duplicates excluded.', registers });
    this.sightingsDuplicates = new Counter({ name: 'sightline_sightings_duplicates_total', help: 'Sightings received again (same id or content within the dedupe window) and counted once.', registers });
    this.sightingsRefused = new Counter({
      name: 'sightline_sightings_refused_total',
      help: 'Sightings refused by the webhook, by reason; a request refused as a whole (auth, JSON, size) counts once.',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'sightline_journal_backlog',
      help: 'Sightings in the journal not yet applied by the correlator.',
      registers,
      collect() {
        const f = sources().journalBacklog;
        if (f) this.set(Math.max(0, f()));
      },
    });

    // ── Correlation ──────────────────────────────────────────────────────────────────────
    new Gauge({
      name: 'sightline_incidents_open',
      help: 'Open incidents (one per target at most).',
      registers,
      collect() {
        const f = sources().incidentsOpen;
        if (f) this.set(f());
      },
    });

    // ── Outbox ───────────────────────────────────────────────────────────────────────────
    new Gauge({
      name: 'sightline_outbox_depth',
      help: 'Notifications waiting in the outbox, per channel (webex, email).',
      labelNames: ['channel'],
      registers,
      collect() {
        const f = sources().outboxDepth;
        if (!f) return;
        this.reset();
        for (const [channel, n] of Object.entries(f())) this.set({ channel }, n);
      },
    });
    // A queue that is busy but moving has a small value here; one that keeps growing is stuck (/readyz says which).
    new Gauge({
      name: 'sightline_outbox_queue_stalled_seconds',
      help: 'Per notification queue (a Webex room, or e-mail): seconds since its head item last moved; 0 when empty.',
      labelNames: ['channel', 'queue'],
      registers,
      collect() {
        const f = sources().outboxQueues;
        if (!f) return;
        this.reset();
        for (const q of f()) this.set({ channel: q.channel, queue: q.queue }, q.stalledSeconds);
      },
    });
    new Gauge({
      name: 'sightline_outbox_storm_queues',
      help: 'Notification queues in storm mode (sending digests instead of one card per incident).',
      registers,
      collect() {
        const f = sources().outboxQueues;
        if (f) this.set(f().filter((q) => q.storm).length);
      },
    });
    new Gauge({
      name: 'sightline_outbox_dead_letters',
      help: 'Notifications refused for good (kept with their reason; `outbox` lists them).',
      registers,
      collect() {
        const f = sources().outboxDeadLetters;
        if (f) this.set(f());
      },
    });

    // ── Webex ────────────────────────────────────────────────────────────────────────────
    this.webexPosts = new Counter({ name: 'sightline_webex_posts_total', help: 'Messages and cards posted to Webex (POST /messages answered 2xx).', registers });
    this.webexRateLimited = new Counter({
      name: 'sightline_webex_rate_limited_total',
      help: 'Webex answers 429 (rate limited) and 423 (locked), each retried after Retry-After.',
      labelNames: ['status'],
      registers,
    });

    // ── XDR ──────────────────────────────────────────────────────────────────────────────
    this.xdrCalls = new Counter({
      name: 'sightline_xdr_calls_total',
      help: 'XDR operations by name and result (ok, the HTTP status of a failure, or error when XDR gave no answer); retries inside one operation count once.',
      labelNames: ['operation', 'status'],
      registers,
    });
    new Gauge({
      name: 'sightline_xdr_changes_waiting',
      help: 'Changes queued for XDR (sightings, incidents, updates, relationships, statuses) that the mirror has not written yet.',
      registers,
      collect() {
        const f = sources().xdrChangesWaiting;
        if (f) this.set(f());
      },
    });

    // ── Hunts ────────────────────────────────────────────────────────────────────────────
    this.huntsTotal = new Counter({ name: 'sightline_hunts_total', help: 'Hunts ended, by outcome (finished, failed, not_published).', labelNames: ['outcome'], registers });
    this.huntSeconds = new Histogram({
      name: 'sightline_hunt_duration_seconds',
      help: 'How long a hunt took, from start to its summary, by outcome.',
      labelNames: ['outcome'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.huntObservables = new Counter({ name: 'sightline_hunt_observables_total', help: 'Observables (IPs, domains, hashes) checked against XDR by finished hunts.', registers });
  }

  /** Where the gauges read their values at scrape time. */
  watch(sources: Partial<MetricsSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  readonly sightings: SightingsRecorder = {
    accepted: (n) => n > 0 && this.sightingsAccepted.inc(n),
    duplicates: (n) => n > 0 && this.sightingsDuplicates.inc(n),
    refused: (reason, n) => n > 0 && this.sightingsRefused.inc({ reason }, n),
  };

  readonly hunts: HuntRecorder = {
    huntFinished: ({ outcome, seconds, observables }) => {
      this.huntsTotal.inc({ outcome });
      this.huntSeconds.observe({ outcome }, seconds);
      if (observables > 0) this.huntObservables.inc(observables);
    },
  };

  /** HttpClient's `onAttempt` for the Webex client: posts and rate-limit answers. */
  readonly webexAttempt = (a: HttpAttempt): void => {
    if (a.status === 429 || a.status === 423) this.webexRateLimited.inc({ status: String(a.status) });
    else if (a.method === 'POST' && a.status !== undefined && a.status < 300 && isMessagesUrl(a.url)) this.webexPosts.inc();
  };

  /** The XDR port with every operation counted by name and result; behaviour unchanged. */
  instrumentXdr<T extends XdrPort>(xdr: T): T {
    const calls = this.xdrCalls;
    return new Proxy(xdr, {
      get(target, prop) {
        // The target as `this`: getters such as callCount read the client's own fields.
        const value: unknown = Reflect.get(target, prop);
        if (typeof value !== 'function' || typeof prop !== 'string' || !XDR_OPERATIONS.has(prop)) return value;
        return async (...args: unknown[]) => {
          try {
            const result: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
            calls.inc({ operation: prop, status: 'ok' });
            return result;
          } catch (err) {
            const status = (err as { status?: unknown }).status;
            calls.inc({ operation: prop, status: typeof status === 'number' ? String(status) : 'error' });
            throw err;
          }
        };
      },
    });
  }

  async scrape(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The XdrPort operations (all async); anything else on the object passes through untouched. */
const XDR_OPERATIONS = new Set<string>([
  'deliberate',
  'observe',
  'inspect',
  'createCasebook',
  'findCasebookByExternalId',
  'createSighting',
  'createIncident',
  'patchIncident',
  'setIncidentStatus',
  'getIncident',
  'findIncidentsByExternalId',
  'createRelationship',
  'findRelationshipsByExternalId',
  'findSightingsByExternalId',
  'listResponseActions',
  'triggerResponseAction',
] satisfies (keyof XdrPort)[]);

function isMessagesUrl(url: string): boolean {
  try {
    return /\/messages\/?$/.test(new URL(url).pathname);
  } catch {
    return false;
  }
}
