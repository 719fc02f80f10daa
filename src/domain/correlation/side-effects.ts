import type { IncidentView, Notification } from '../../notify/notification.js';
import type { ResponseAction, XdrPort } from '../ports/xdr.js';
import type { Observable } from '../types.js';
import type { Rung } from './ladder.js';

/**
 * The side effects of applied sightings, shared by the lowdb engine (engine.ts) and the
 * PostgreSQL apply loop (services/shared-correlation.ts), so both say the same things in
 * the same shapes: the coalescing of incident updates, the "nothing new, no message" rule,
 * and a ladder rung's actions. No I/O here: timers, XDR and the webhook poster are injected.
 */

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Runs the `respond` action in place of the default XDR list-and-trigger; returns a line for the audit record. */
export type Responder = (incident: IncidentView, observable: Observable, wanted: string[]) => Promise<string>;

export interface PendingUpdate {
  newSightings: number;
  crossed: string[];
  timer?: unknown;
}

/**
 * Incident updates waiting CORRELATION_COALESCE_MS, per incident, plus the count the last card
 * or update of each incident showed (this process). A message is rendered when it is sent, so
 * under a backlog an update can already show the count of sightings whose own update is still to
 * come; that one would then repeat the same count with nothing new.
 */
export class UpdateCoalescer {
  private readonly pending = new Map<string, PendingUpdate>();
  private readonly shown = new Map<string, number>();

  constructor(
    private readonly coalesceMs: number,
    private readonly timers: Timers,
    /** Called when an incident's wait is over. */
    private readonly onDue: (incidentId: string) => void,
  ) {}

  /** One more sighting counted into an incident (and the rung it crossed, if any). */
  add(incidentId: string, crossed?: string): void {
    let p = this.pending.get(incidentId);
    if (!p) {
      p = { newSightings: 0, crossed: [] };
      this.pending.set(incidentId, p);
      if (this.coalesceMs > 0) p.timer = this.timers.setTimeout(() => this.onDue(incidentId), this.coalesceMs);
    }
    p.newSightings += 1;
    if (crossed) p.crossed.push(crossed);
  }

  /** Takes what waits for an incident (its timer cancelled); undefined when nothing does. */
  take(incidentId: string): PendingUpdate | undefined {
    const p = this.pending.get(incidentId);
    if (!p) return undefined;
    this.pending.delete(incidentId);
    if (p.timer !== undefined) this.timers.clearTimeout(p.timer);
    return p;
  }

  waiting(): string[] {
    return [...this.pending.keys()];
  }

  /** The card showed this count. */
  showed(incidentId: string, count: number): void {
    this.shown.set(incidentId, count);
  }

  forget(incidentId: string): void {
    this.shown.delete(incidentId);
  }

  /**
   * The incident_updated message for what waited, or undefined when it has nothing to say that
   * an earlier message did not already show (and no rung crossed). Records the count shown.
   */
  updateMessage(incidentId: string, p: PendingUpdate, count: number, view: IncidentView, cardMessageId?: string): Notification | undefined {
    if (count <= (this.shown.get(incidentId) ?? 0) && p.crossed.length === 0) return undefined;
    this.shown.set(incidentId, count);
    return { kind: 'incident_updated', incident: view, newSightings: p.newSightings, crossed: p.crossed, ...(cardMessageId ? { replyTo: cardMessageId } : {}) };
  }
}

/** What one ladder action does: a message only, or an outside call (then a message for `respond`). */
export type RungStep =
  | { action: string; kind: 'message'; message: Notification; outcome: string }
  | { action: 'respond'; kind: 'respond' }
  | { action: 'webhook'; kind: 'webhook' };

export interface RungSettings {
  dryRun: boolean;
  oncall: readonly string[];
}

/** The steps of a fired rung, in the ladder's action order. `firedAtCount` is the count that crossed it. */
export function rungSteps(rung: Rung, view: IncidentView, firedAtCount: number | undefined, s: RungSettings): RungStep[] {
  const dryRun = s.dryRun;
  return rung.actions.map((action): RungStep => {
    if (action === 'notify' || action === 'mention') {
      return {
        action,
        kind: 'message',
        message: { kind: 'rung_fired', incident: view, rung: rung.label, action, firedAtCount, dryRun, ...(action === 'mention' ? { mention: [...s.oncall] } : {}) },
        outcome: `${action}: sent`,
      };
    }
    if (dryRun) return { action, kind: 'message', message: { kind: 'rung_fired', incident: view, rung: rung.label, action, firedAtCount, dryRun }, outcome: `${action}: dry run` };
    return action === 'respond' ? { action, kind: 'respond' } : { action, kind: 'webhook' };
  });
}

/** The message a `respond` action sends with its outcome (which may quote the IOC: its own field, rendered inert). */
export function respondMessage(rung: Rung, view: IncidentView, line: string, firedAtCount: number | undefined, dryRun: boolean): Notification {
  return { kind: 'rung_fired', incident: view, rung: rung.label, action: 'respond', outcome: line, firedAtCount, dryRun };
}

export function failedOutcome(action: string, err: unknown): string {
  return `${action}: failed (${err instanceof Error ? err.message : String(err)})`;
}

export interface RungPorts {
  xdr: XdrPort;
  responseActions: readonly string[];
  responder?: Responder | undefined;
  webhookUrl?: string | undefined;
  webhookPoster?: ((url: string, body: unknown) => Promise<void>) | undefined;
}

/** The `respond` action: the configured responder, else the configured XDR response actions offered for the IOC. */
export async function runRespond(ports: RungPorts, view: IncidentView, observable: Observable): Promise<string> {
  const wanted = [...ports.responseActions];
  if (ports.responder) return ports.responder(view, observable, wanted);
  if (wanted.length === 0) return 'nothing to run: CORRELATION_RESPONSE_ACTIONS is empty';
  const available = await ports.xdr.listResponseActions([observable]);
  const chosen = available.filter((a) => wanted.some((w) => actionMatches(w, a)));
  if (chosen.length === 0) return `no configured action is offered for ${observable.type} ${observable.value}`;
  const results: string[] = [];
  for (const a of chosen) {
    const r = await ports.xdr.triggerResponseAction(a, observable);
    results.push(`${a.module} ${a.title}: ${r.status}`);
  }
  return results.join(', ');
}

/** The `webhook` action: POST the incident to CORRELATION_WEBHOOK_URL. */
export async function runWebhook(ports: RungPorts, view: IncidentView, rung: Rung, firedAtCount?: number): Promise<void> {
  const url = ports.webhookUrl;
  if (!url || !ports.webhookPoster) throw new Error('no webhook poster or CORRELATION_WEBHOOK_URL configured');
  await ports.webhookPoster(url, { event: 'sightline.rung_fired', rung: rung.label, actions: rung.actions, ...(firedAtCount === undefined ? {} : { firedAtCount }), incident: view });
}

/** `umbrella-block` matches an action whose id or title (optionally prefixed by its module) slugs to the same. */
export function actionMatches(wanted: string, action: ResponseAction): boolean {
  const w = slug(wanted);
  return [action.id, action.title, `${action.module} ${action.id}`, `${action.module} ${action.title}`].some((c) => slug(c) === w);
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
