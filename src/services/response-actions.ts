import { createHash, randomUUID } from 'node:crypto';
import type { ResponseAction, XdrPort } from '../domain/ports/xdr.js';
import type { Clock } from '../core/clock.js';
import { asSightlineError, NotFoundError, ValidationError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OfferedAction } from '../domain/investigate/report.js';
import type { Observable } from '../domain/types.js';
import type { State } from '../store/state.js';
import type { Store } from '../store/store.js';

/**
 * Response actions from `investigate` cards: the offers a card's buttons point
 * at (our ids, so a click names an action XDR offered and nothing else), the
 * confirmation an admin's click asks for, and the record of every action run
 * (who asked, who confirmed, what, when, result). All of it lives in the state
 * file, so a restart between click and confirm loses nothing and a second
 * click on "Confirm" never runs an action twice.
 */
export interface Offer {
  id: string;
  actionId: string;
  moduleInstanceId: string;
  module: string;
  title: string;
  observable: Observable;
  offeredAt: string;
}

export interface Confirmation {
  id: string;
  offerId: string;
  requestedBy: string;
  requestedAt: string;
  status: 'pending' | 'running' | 'done' | 'cancelled';
  recordId?: string;
}

export interface ActionRecord {
  id: string;
  title: string;
  module: string;
  observable: Observable;
  requestedBy: string;
  confirmedBy: string;
  at: string;
  /** `success` / `failure` as XDR answered, or `error` when the call itself failed. */
  result: 'success' | 'failure' | 'error';
  detail?: string;
}

interface DeskState {
  offers: Record<string, Offer>;
  confirmations: Record<string, Confirmation>;
  records: ActionRecord[];
}

export const CONFIRM_WITHIN_MS = 10 * 60_000;
const MAX_OFFERS = 5000;
const MAX_CONFIRMATIONS = 500;
export const MAX_ACTION_RECORDS = 1000;

export type ConfirmOutcome = { kind: 'ran'; record: ActionRecord } | { kind: 'already'; record?: ActionRecord; status: Confirmation['status'] };

export class ResponseActionDesk {
  constructor(
    private readonly deps: { store: Store; xdr: Pick<XdrPort, 'triggerResponseAction'>; clock: Clock; logger: Logger },
  ) {}

  /** Stores what XDR offered and answers the buttons per observable key (`type:value`, value lower-cased). */
  async offer(actions: ResponseAction[]): Promise<Map<string, OfferedAction[]>> {
    const byKey = new Map<string, OfferedAction[]>();
    const now = this.deps.clock.now().toISOString();
    const offers: Offer[] = [];
    for (const a of actions) {
      if (!a.observable) continue; // XDR did not say for which observable: nothing we could trigger it on
      const o = a.observable;
      const id = offerId(a, o);
      offers.push({ id, actionId: a.id, moduleInstanceId: a.moduleInstanceId, module: a.module, title: a.title || a.id, observable: o, offeredAt: now });
      const list = byKey.get(offerKey(o)) ?? [];
      if (!list.some((x) => x.offerId === id)) list.push({ offerId: id, title: a.title || a.id, module: a.module });
      byKey.set(offerKey(o), list);
    }
    if (offers.length > 0) {
      await this.deps.store.update((s) => {
        const d = desk(s);
        for (const offer of offers) {
          delete d.offers[offer.id]; // re-insert: the newest offers are the last ones dropped
          d.offers[offer.id] = offer;
        }
        trim(d.offers, MAX_OFFERS);
      }, { durable: false }); // an offer lost in a crash only means "run investigate again": not worth a disk wait per ask
    }
    return byKey;
  }

  /** An admin clicked an action button: a pending confirmation, or NotFoundError for an offer we never made. */
  async ask(offerIdValue: string, by: string): Promise<{ confirmation: Confirmation; offer: Offer }> {
    const offer = this.offerById(offerIdValue);
    if (!offer) throw new NotFoundError('That action is no longer on offer; run `investigate` again for fresh buttons.');
    const confirmation: Confirmation = {
      id: randomUUID(),
      offerId: offer.id,
      requestedBy: by,
      requestedAt: this.deps.clock.now().toISOString(),
      status: 'pending',
    };
    await this.deps.store.update((s) => {
      const d = desk(s);
      d.confirmations[confirmation.id] = confirmation;
      trim(d.confirmations, MAX_CONFIRMATIONS);
    });
    return { confirmation, offer };
  }

  /**
   * Runs the action once: the first confirm flips pending → running inside one
   * store update, so a double click (or two admins) cannot run it twice. Only the
   * admin who asked may confirm, within CONFIRM_WITHIN_MS.
   */
  async confirm(confirmationId: string, by: string): Promise<ConfirmOutcome> {
    const now = this.deps.clock.now();
    const claim = await this.deps.store.update((s) => {
      const d = desk(s);
      const c = d.confirmations[confirmationId];
      if (!c) return { kind: 'missing' as const };
      if (c.status !== 'pending') return { kind: 'already' as const, status: c.status, record: d.records.find((r) => r.id === c.recordId) };
      if (c.requestedBy.toLowerCase() !== by.toLowerCase()) return { kind: 'other' as const, requestedBy: c.requestedBy };
      if (now.getTime() - Date.parse(c.requestedAt) > CONFIRM_WITHIN_MS) return { kind: 'expired' as const };
      const offer = d.offers[c.offerId];
      if (!offer) return { kind: 'missing' as const };
      c.status = 'running';
      return { kind: 'claimed' as const, confirmation: { ...c }, offer: { ...offer } };
    });
    switch (claim.kind) {
      case 'missing':
        throw new NotFoundError('I have no such confirmation (it may be from before a reset); click the action button again.');
      case 'other':
        throw new ValidationError(`Only ${claim.requestedBy}, who asked for this action, can confirm it; click the action button yourself to run it.`);
      case 'expired':
        throw new ValidationError(`That confirmation expired (they last ${CONFIRM_WITHIN_MS / 60_000} minutes); click the action button again.`);
      case 'already':
        return { kind: 'already', status: claim.status, record: claim.record };
      case 'claimed':
        break;
    }
    const { offer, confirmation } = claim;
    let result: ActionRecord['result'];
    let detail: string | undefined;
    try {
      const answer = await this.deps.xdr.triggerResponseAction(
        { id: offer.actionId, title: offer.title, module: offer.module, moduleInstanceId: offer.moduleInstanceId },
        offer.observable,
      );
      result = answer.status === 'success' ? 'success' : 'failure';
      if (result === 'failure') detail = `${offer.module} answered "${answer.status}"`;
    } catch (err) {
      // Not retried: response actions are not idempotent (xdr-api.md §3.5).
      result = 'error';
      detail = asSightlineError(err).userMessage;
      this.deps.logger.warn({ err, action: offer.actionId, observable: offer.observable }, 'XDR response action failed');
    }
    const record: ActionRecord = {
      id: randomUUID(),
      title: offer.title,
      module: offer.module,
      observable: offer.observable,
      requestedBy: confirmation.requestedBy,
      confirmedBy: by,
      at: this.deps.clock.now().toISOString(),
      result,
      ...(detail ? { detail } : {}),
    };
    await this.deps.store.update((s) => {
      const d = desk(s);
      d.records.push(record);
      if (d.records.length > MAX_ACTION_RECORDS) d.records.splice(0, d.records.length - MAX_ACTION_RECORDS);
      const c = d.confirmations[confirmationId];
      if (c) {
        c.status = 'done';
        c.recordId = record.id;
      }
    });
    this.deps.logger.info({ action: offer.actionId, module: offer.module, observable: offer.observable, by, result }, 'XDR response action run from chat');
    return { kind: 'ran', record };
  }

  async cancel(confirmationId: string, by: string): Promise<{ cancelled: boolean; offer?: Offer; status?: Confirmation['status'] }> {
    return this.deps.store.update((s) => {
      const d = desk(s);
      const c = d.confirmations[confirmationId];
      if (!c) return { cancelled: false };
      if (c.status !== 'pending') return { cancelled: false, status: c.status, offer: d.offers[c.offerId] };
      if (c.requestedBy.toLowerCase() !== by.toLowerCase()) return { cancelled: false, status: c.status, offer: d.offers[c.offerId] };
      c.status = 'cancelled';
      return { cancelled: true, offer: d.offers[c.offerId] };
    });
  }

  /** Newest first; `page` is 1-based. */
  list(page: number, pageSize: number): { items: ActionRecord[]; total: number } {
    const records = readDesk(this.deps.store.get()).records;
    const newest = [...records].reverse();
    const start = (Math.max(1, page) - 1) * pageSize;
    return { items: newest.slice(start, start + pageSize), total: records.length };
  }

  offerById(id: string): Offer | undefined {
    return readDesk(this.deps.store.get()).offers[id];
  }
}

export function offerKey(o: Observable): string {
  return `${o.type}:${o.value.toLowerCase()}`;
}

/** Stable per (module instance, action, observable): the same action offered twice is one offer. */
function offerId(a: ResponseAction, o: Observable): string {
  return createHash('sha256').update(`${a.moduleInstanceId}\u0000${a.id}\u0000${o.type}\u0000${o.value}`).digest('hex').slice(0, 24);
}

function readDesk(s: Readonly<State>): DeskState {
  const d = s.investigate as Partial<DeskState> | undefined;
  return { offers: d?.offers ?? {}, confirmations: d?.confirmations ?? {}, records: d?.records ?? [] };
}

function desk(s: State): DeskState {
  const d = (s.investigate ?? {}) as Partial<DeskState>;
  d.offers ??= {};
  d.confirmations ??= {};
  d.records ??= [];
  s.investigate = d;
  return d as DeskState;
}

function trim(map: Record<string, unknown>, max: number): void {
  const keys = Object.keys(map);
  for (const k of keys.slice(0, Math.max(0, keys.length - max))) delete map[k];
}
