import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { UpstreamError } from '../../../src/core/errors.js';
import type { CtiaEntity, ResponseAction, XdrPort } from '../../../src/domain/ports/xdr.js';
import { shortIdOf } from '../../../src/domain/ports/xdr.js';
import type { Notification, Notifier } from '../../../src/notify/notification.js';
import { LowdbStore } from '../../../src/store/lowdb-store.js';
import type { Timers } from '../../../src/domain/correlation/engine.js';
import type { SequencedSighting } from '../../../src/domain/correlation/types.js';
import type { Observable } from '../../../src/domain/types.js';
import type { Config } from '../../../src/config/load.js';

/** A correlation config with one notify rung and no actions, for tests about something else. */
export function quietCorrelationConfig(overrides: Partial<Config['correlation']> = {}): Config['correlation'] {
  return { rejectedIsClosed: true, ladder: 'eq 2 -> notify', oncall: [], responseActions: [], dryRun: false, coalesceMs: 5000, statusSyncSeconds: 300, ...overrides };
}

/** An in-memory stand-in for XDR's CTIA + respond APIs, with an on/off switch for outages. */
export class FakeXdr implements XdrPort {
  down = false;
  callCount = 0;
  incidents = new Map<string, CtiaEntity>();
  sightings: CtiaEntity[] = [];
  relationships: CtiaEntity[] = [];
  actions: ResponseAction[] = [{ id: 'block', title: 'Block in Umbrella', module: 'Umbrella', moduleInstanceId: 'umb-1' }];
  triggered: { action: string; observable: Observable }[] = [];

  /** Answers a call with this HTTP status instead (undefined: answer normally). */
  fault: ((call: string, arg: unknown) => number | undefined) | undefined;
  calls: string[] = [];

  private hit(call = '', arg?: unknown): void {
    this.callCount++;
    this.calls.push(call);
    if (this.down) throw new UpstreamError('XDR', 'XDR cannot be reached; Sightline will retry.', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const status = this.fault?.(call, arg);
    if (status !== undefined) throw new UpstreamError('XDR', `XDR answered ${status}.`, { status });
  }
  private id(type: string): string {
    return `https://private.intel.amp.cisco.com:443/ctia/${type}/${type}-${randomUUID()}`;
  }
  deliberate(): never {
    throw new Error('not used');
  }
  observe(): never {
    throw new Error('not used');
  }
  inspect(): never {
    throw new Error('not used');
  }
  createCasebook(): never {
    throw new Error('not used');
  }
  findCasebookByExternalId(): never {
    throw new Error('not used');
  }
  async createSighting(s: Record<string, unknown>): Promise<CtiaEntity> {
    this.hit('createSighting', s);
    const e = { ...s, id: this.id('sighting') };
    this.sightings.push(e);
    return e;
  }
  async findSightingsByExternalId(ext: string): Promise<CtiaEntity[]> {
    this.hit('findSightingsByExternalId', ext);
    return this.sightings.filter((x) => (x.external_ids as string[] | undefined)?.includes(ext));
  }
  async createIncident(i: Record<string, unknown>): Promise<CtiaEntity> {
    this.hit('createIncident', i);
    const e = { ...i, id: this.id('incident') };
    this.incidents.set(shortIdOf(e.id), e);
    return e;
  }
  async patchIncident(shortId: string, patch: Record<string, unknown>): Promise<CtiaEntity> {
    this.hit('patchIncident', shortId);
    const e = this.incidents.get(shortId);
    if (!e) throw new UpstreamError('XDR', 'not found', { status: 404 });
    Object.assign(e, patch);
    return e;
  }
  async setIncidentStatus(shortId: string, status: string): Promise<CtiaEntity> {
    return this.patchIncident(shortId, { status });
  }
  async getIncident(shortId: string): Promise<CtiaEntity | undefined> {
    this.hit('getIncident', shortId);
    return this.incidents.get(shortId);
  }
  async findIncidentsByExternalId(ext: string): Promise<CtiaEntity[]> {
    this.hit('findIncidentsByExternalId', ext);
    return [...this.incidents.values()].filter((i) => (i.external_ids as string[] | undefined)?.includes(ext));
  }
  async createRelationship(rel: Parameters<XdrPort['createRelationship']>[0]): Promise<CtiaEntity> {
    this.hit('createRelationship', rel);
    const e = { ...rel, id: this.id('relationship') };
    this.relationships.push(e);
    return e;
  }
  async findRelationshipsByExternalId(ext: string): Promise<CtiaEntity[]> {
    this.hit('findRelationshipsByExternalId', ext);
    return this.relationships.filter((r) => (r.external_ids as string[] | undefined)?.includes(ext));
  }
  async listResponseActions(): Promise<ResponseAction[]> {
    this.hit('listResponseActions');
    return this.actions;
  }
  async triggerResponseAction(action: ResponseAction, observable: Observable): Promise<{ status: string }> {
    this.hit('triggerResponseAction', action);
    this.triggered.push({ action: action.id, observable });
    return { status: 'success' };
  }
}

export class RecordingNotifier implements Notifier {
  sent: Notification[] = [];
  async notify(n: Notification): Promise<void> {
    this.sent.push(n);
  }
  of<K extends Notification['kind']>(kind: K): Extract<Notification, { kind: K }>[] {
    return this.sent.filter((n): n is Extract<Notification, { kind: K }> => n.kind === kind);
  }
}

/** Timers the test fires by hand. */
export class ManualTimers implements Timers {
  private next = 1;
  scheduled = new Map<number, { fn: () => void; ms: number }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.scheduled.set(id, { fn, ms });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.scheduled.delete(h as number);
  }
  fireAll(): void {
    const all = [...this.scheduled.values()];
    this.scheduled.clear();
    for (const t of all) t.fn();
  }
}

export async function tempStore(): Promise<{ store: LowdbStore; path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sightline-corr-'));
  const path = join(dir, 'state.json');
  const store = await LowdbStore.open(path);
  return { store, path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

let seq = 0;
export function resetSeq(): void {
  seq = 0;
}

/** A sighting of `ioc` on host `host`, observed at `observedAt`. */
export function sighting(host: string, opts: { ioc?: string; observedAt?: string; seq?: number; source?: string; mac?: string } = {}): SequencedSighting {
  const s = opts.seq ?? ++seq;
  const observables: Observable[] = [{ type: 'hostname', value: host }];
  if (opts.mac) observables.push({ type: 'mac_address', value: opts.mac });
  return {
    seq: s,
    dedupeKey: `k-${s}`,
    target: { type: 'endpoint', observables },
    ioc: { type: 'domain', value: opts.ioc ?? 'ictoms.site' },
    source: opts.source ?? 'AMP for Endpoints',
    observedAt: opts.observedAt ?? new Date(Date.UTC(2022, 2, 1, 10, 0, s)).toISOString(),
  };
}
