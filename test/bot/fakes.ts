import type { NewMessage, WebexApi, WebexMessage, WebexRoom } from '../../src/clients/webex/port.js';
import { createLogger, type Logger } from '../../src/core/logger.js';
import { BotDispatcher, type BotDispatcherOptions } from '../../src/bot/dispatcher.js';
import type { AuthPolicy } from '../../src/bot/authorize.js';
import type { CardActionEvent, ChatMessageEvent } from '../../src/bot/events.js';
import type { HuntService, HuntStatus, IncidentFilter, IncidentService } from '../../src/domain/ports/services.js';
import type { IncidentView } from '../../src/notify/notification.js';

export const BOT_ID = 'bot-person-id';
export const ADMIN = 'alice@soc.example.com';
export const ANALYST = 'bob@soc.example.com';

/** Records every postMessage; the rest of the API is what a reply path may touch. */
export class RecordingWebexApi implements WebexApi {
  readonly posted: NewMessage[] = [];
  rooms: WebexRoom[] = [];
  listRoomsCalls = 0;
  /** Make the next posts fail, in order, before succeeding. */
  failures: Error[] = [];
  async me() {
    return { id: BOT_ID, emails: ['sightline@webex.bot'], displayName: 'Sightline Bot', type: 'bot' as const };
  }
  async getPerson(): Promise<never> {
    throw new Error('not used');
  }
  async *listRooms(): AsyncIterable<WebexRoom> {
    this.listRoomsCalls++;
    yield* this.rooms;
  }
  async createRoom(): Promise<never> {
    throw new Error('not used');
  }
  async addMember(): Promise<void> {}
  async postMessage(msg: NewMessage): Promise<WebexMessage> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.posted.push(msg);
    return { id: `m${this.posted.length}`, roomId: msg.roomId ?? '', personId: BOT_ID, personEmail: 'sightline@webex.bot', created: new Date(0).toISOString() };
  }
  async getMessage(): Promise<never> {
    throw new Error('not used');
  }
  async getAttachmentAction(): Promise<never> {
    throw new Error('not used');
  }
  async listWebhooks() {
    return [];
  }
  async createWebhook(): Promise<never> {
    throw new Error('not used');
  }
  async deleteWebhook(): Promise<void> {}
  /** The markdown of every reply so far. */
  get texts(): string[] {
    return this.posted.map((m) => m.markdown ?? '');
  }
}

export function incident(n: number, over: Partial<IncidentView> = {}): IncidentView {
  return {
    id: `incident-${n}`,
    targetKey: `hostname:host-${n}`,
    targetType: 'hostname',
    targetValue: `host-${n}`,
    count: n + 1,
    status: 'open',
    firstSeen: '2026-11-20T08:00:00.000Z',
    lastSeen: '2026-11-24T09:30:00.000Z',
    url: `https://visibility.amp.cisco.com/incidents?q=id:incident-${n}#summary`,
    rungsFired: [],
    ...over,
  };
}

export class FakeHunts implements HuntService {
  readonly calls: { method: string; args: unknown[] }[] = [];
  current: HuntStatus = {};
  running: HuntStatus['running'];
  runUriError: Error | undefined;
  async runThisWeek(requestedBy: string) {
    this.calls.push({ method: 'runThisWeek', args: [requestedBy] });
    if (this.running) return { started: false as const, alreadyRunning: this.running };
    this.running = { id: 'hunt-1', label: '2026-11-20', startedAt: '2026-11-25T12:00:00Z', threatsDone: 0, threatsTotal: 7 };
    return { started: true as const, huntId: 'hunt-1' };
  }
  async runUri(uri: string, requestedBy: string) {
    this.calls.push({ method: 'runUri', args: [uri, requestedBy] });
    if (this.runUriError) throw this.runUriError;
    return { started: true as const, huntId: 'hunt-2' };
  }
  status(): HuntStatus {
    this.calls.push({ method: 'status', args: [] });
    return { ...this.current, running: this.running };
  }
}

export class FakeIncidents implements IncidentService {
  readonly calls: { method: string; args: unknown[] }[] = [];
  all: IncidentView[] = [];
  closeError: Error | undefined;
  list(filter: IncidentFilter, page: number, pageSize: number) {
    this.calls.push({ method: 'list', args: [filter, page, pageSize] });
    const matching = this.all.filter((i) => filter === 'all' || i.status === filter);
    return { items: matching.slice((page - 1) * pageSize, page * pageSize), total: matching.length };
  }
  async close(target: string, by: string, reason?: string) {
    this.calls.push({ method: 'close', args: [target, by, reason] });
    if (this.closeError) throw this.closeError;
    const found = this.all.find((i) => i.targetValue === target && i.status === 'open') ?? incident(99, { targetValue: target });
    return { ...found, status: 'closed' };
  }
  async closeById(incidentId: string, by: string, reason?: string) {
    this.calls.push({ method: 'closeById', args: [incidentId, by, reason] });
    if (this.closeError) throw this.closeError;
    const found = this.all.find((i) => i.id === incidentId) ?? incident(99, { id: incidentId });
    if (found.status !== 'open') {
      const open = this.all.find((i) => i.targetKey === found.targetKey && i.status === 'open');
      return { closed: false as const, incident: found, ...(open ? { open } : {}) };
    }
    return { closed: true as const, incident: { ...found, status: 'closed' } };
  }
  sightings(incidentId: string, limit: number) {
    this.calls.push({ method: 'sightings', args: [incidentId, limit] });
    return [
      { observedAt: '2026-11-24T09:30:00Z', ioc: 'domain: evil.example', source: 'Umbrella' },
      { observedAt: '2026-11-23T10:00:00Z', ioc: 'sha256: 0123abcd', source: 'Secure Endpoint' },
    ];
  }
}

export interface Harness {
  api: RecordingWebexApi;
  hunts: FakeHunts;
  incidents: FakeIncidents;
  bot: BotDispatcher;
  logs: Record<string, unknown>[];
}

export function harness(policy: Partial<AuthPolicy> = {}, opts: Partial<BotDispatcherOptions> = {}): Harness {
  const api = new RecordingWebexApi();
  const hunts = new FakeHunts();
  const incidents = new FakeIncidents();
  const logs: Record<string, unknown>[] = [];
  const logger: Logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
  const bot = new BotDispatcher({
    api,
    hunts,
    incidents,
    policy: { allowedRooms: [], allowedDomains: [], admins: [ADMIN], ...policy },
    botPersonId: BOT_ID,
    logger,
    huntRoomTitle: 'TALOS ROUNDUP Investigation',
    ...opts,
  });
  return { api, hunts, incidents, bot, logs };
}

let seq = 0;
export function message(text: string, over: Partial<ChatMessageEvent> = {}): ChatMessageEvent {
  seq++;
  return { kind: 'message', messageId: `msg-${seq}`, roomId: 'room-soc', roomType: 'group', personId: 'person-alice', personEmail: ADMIN, text, ...over };
}

export function cardClick(inputs: Record<string, unknown>, over: Partial<CardActionEvent> = {}): CardActionEvent {
  seq++;
  return { kind: 'card_action', actionId: `act-${seq}`, messageId: 'card-msg-1', roomId: 'room-incidents', personId: 'person-alice', personEmail: ADMIN, inputs, ...over };
}

/** Sends one message and returns the markdown of the single reply it must produce. */
export async function ask(h: Harness, text: string, over: Partial<ChatMessageEvent> = {}): Promise<string> {
  const before = h.api.posted.length;
  await h.bot.handle(message(text, over));
  const replies = h.api.posted.slice(before);
  if (replies.length !== 1) throw new Error(`expected exactly one reply to ${JSON.stringify(text)}, got ${replies.length}`);
  return replies[0]?.markdown ?? '';
}
