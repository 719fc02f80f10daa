import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { silentLogger, type Logger } from '../../core/logger.js';
import { createCatalogRouter } from './catalog.js';
import { WebhookDispatcher } from './delivery.js';
import { FaultBook, type FaultSpec, type RateLimitOptions } from './faults.js';
import { sendWebexError, WebexHttpError } from './http-error.js';
import type { EmuAction, EmuMessage, EmuPerson, EmuRoom, EmuWebhook } from './model.js';
import { createRestRouter, webexErrors } from './rest-router.js';
import { TrafficObserver } from './observer.js';
import { createTestRouter } from './test-router.js';
import { WebsocketSide } from './websocket/index.js';
import { ORG_ID, WebexWorld, type PersonSeed } from './world.js';

export interface WebexEmulatorOptions {
  /** The bearer token the bot uses. Default `<x>_<y>_<orgId>`, the shape the SDK needs to find u2c and WDM (webex-websocket.md §1). */
  botToken?: string;
  bot?: PersonSeed;
  analysts?: PersonSeed[];
  port?: number;
  rateLimit?: RateLimitOptions;
  logger?: Logger;
}

export const DEFAULT_ANALYSTS: PersonSeed[] = [
  { email: 'alice@example.com', displayName: 'Alice Analyst' },
  { email: 'bob@example.com', displayName: 'Bob Responder' },
  { email: 'mallory@evil.example', displayName: 'Mallory Outsider' },
];

/**
 * A faithful local Webex: REST under /v1, the u2c catalog, signed webhook delivery,
 * the websocket side (WDM devices, client metrics, Mercury: ./websocket) and a test API under /_emulator (documented in test-router.ts). The programmatic
 * methods below are what the test API calls.
 */
export class WebexEmulator {
  readonly botToken: string;
  private readonly world: WebexWorld;
  private readonly faults: FaultBook;
  private readonly dispatcher: WebhookDispatcher;
  private readonly tokens = new Map<string, string>();
  private readonly counters = { tooManyRequests: 0, requests: 0, messagesPosted: {} as Record<string, number> };
  private server: Server | undefined;
  private readonly port: number;
  /** Every REST request seen, for tests that check what a client called. */
  readonly requestLog: { method: string; path: string }[] = [];
  /** Refused posts and idleness, for checks that must not sleep (test API: /_emulator/refused, /idle). */
  readonly traffic = new TrafficObserver();

  constructor(opts: WebexEmulatorOptions = {}) {
    this.botToken = opts.botToken ?? `sightline-emulator-bot-token_PF84_${ORG_UUID}`;
    this.world = new WebexWorld(opts.bot ?? { email: 'sightline@webex.bot', displayName: 'Sightline' }, opts.analysts ?? DEFAULT_ANALYSTS);
    this.tokens.set(this.botToken, this.world.bot.id);
    this.faults = new FaultBook(opts.rateLimit);
    this.dispatcher = new WebhookDispatcher(this.world, opts.logger ?? silentLogger);
    this.port = opts.port ?? 0;
    this.websocket = new WebsocketSide(this.world, this.tokens);
  }

  /** WDM devices, client metrics and the Mercury websocket, with their fault switches. */
  readonly websocket: WebsocketSide;

  get events() {
    return this.world.events;
  }

  get bot(): EmuPerson {
    return this.world.bot;
  }

  async start(): Promise<{ url: string }> {
    const app = express();
    app.disable('x-powered-by');
    app.use(['/v1', '/u2c'], (req, res, next) => this.traffic.track(req, res, next));
    // Parsed before the fault gate so an injected fault's refusal is recorded with the body sent.
    app.post('/v1/messages', express.json({ limit: '1mb' }), (req, res, next) => this.traffic.recordRefusals(req, res, next));
    app.use(this.faultGate());
    app.use('/v1', createRestRouter({
      world: this.world,
      faults: this.faults,
      tokens: this.tokens,
      onTooManyRequests: () => this.counters.tooManyRequests++,
      onBotPost: (roomId) => (this.counters.messagesPosted[roomId] = (this.counters.messagesPosted[roomId] ?? 0) + 1),
    }));
    app.use('/u2c/api/v1', createCatalogRouter(this.tokens));
    this.websocket.mount(app);
    app.use('/_emulator', createTestRouter(this));
    app.use(webexErrors);
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
    this.websocket.attach(server, this.url);
    return { url: this.url };
  }

  get url(): string {
    if (!this.server) throw new Error('The Webex emulator is not started.');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The REST base to give WebexHttpApi / HYDRA_SERVICE_URL. */
  get apiBase(): string {
    return `${this.url}/v1`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await this.dispatcher.idle();
    await this.websocket.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  people(): EmuPerson[] {
    return this.world.allPeople();
  }

  rooms(): (EmuRoom & { members: string[] })[] {
    return [...this.world.rooms.values()].map((room) => ({ ...room, members: this.world.memberships.filter((m) => m.roomId === room.id).map((m) => m.personEmail) }));
  }

  messages(roomId: string): EmuMessage[] {
    this.world.room(roomId);
    return this.world.messages.filter((m) => m.roomId === roomId);
  }

  /** Every room's messages posted after `cursor` (0: all), oldest first, with the next cursor. */
  messagesSince(cursor = 0): { items: EmuMessage[]; cursor: number } {
    return this.world.messagesSince(cursor);
  }

  /** A moderator or retention policy deletes a message (threaded replies to it then get Webex's 400). */
  deleteMessage(messageId: string): void {
    this.world.deleteMessage(messageId);
  }

  /** Removes a person from a room; with the bot's e-mail, the bot's posts there get Webex's 404. */
  removeFromRoom(roomId: string, personEmail: string): void {
    const person = this.world.personByEmail(personEmail);
    if (!person) throw new WebexHttpError(404, 'The requested resource could not be found.');
    this.world.removeMember(roomId, person.id);
  }

  deleteRoom(roomId: string): void {
    this.world.deleteRoom(roomId);
  }

  webhooks(): EmuWebhook[] {
    return [...this.world.webhooks.values()];
  }

  /** An analyst creates a group room with the bot in it. */
  createRoomAsPerson(title: string, memberEmails: string[]): EmuRoom {
    const [creator, ...others] = memberEmails.map((e) => this.world.personOrInvite(e));
    if (!creator) throw new WebexHttpError(400, 'A room needs at least one member.');
    const room = this.world.createRoom(title, creator);
    for (const p of [...others, this.world.bot]) if (!this.world.isMember(room.id, p.id)) this.world.addMembership(room.id, p, creator);
    return room;
  }

  /** An analyst types in a room; with `mentionBot` the text starts with the bot's name, as Webex renders a mention. */
  postAsPerson(personEmail: string, roomId: string, text: string, opts: { mentionBot?: boolean; parentId?: string } = {}): EmuMessage {
    const person = this.world.personOrInvite(personEmail);
    this.world.room(roomId);
    if (!this.world.isMember(roomId, person.id)) this.world.addMembership(roomId, person, person);
    const bot = this.world.bot;
    if (!opts.mentionBot) return this.world.postMessage(person, roomId, { text, parentId: opts.parentId });
    return this.world.postMessage(person, roomId, {
      text: `${bot.displayName} ${text}`,
      html: `<p><spark-mention data-object-type="person" data-object-id="${bot.id}">${bot.displayName}</spark-mention> ${escapeHtml(text)}</p>`,
      mentionedPeople: [bot.id],
      parentId: opts.parentId,
    });
  }

  /** An analyst messages the bot 1:1 (no mention needed there). */
  postDirect(personEmail: string, text: string): EmuMessage {
    const person = this.world.personOrInvite(personEmail);
    return this.world.postMessage(person, this.world.directRoom(person).id, { text });
  }

  clickCard(personEmail: string, messageId: string, inputs: Record<string, unknown>): EmuAction {
    return this.world.submitAction(this.world.personOrInvite(personEmail), messageId, inputs);
  }

  injectFault(fault: FaultSpec): void {
    this.faults.inject(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  stats() {
    return { ...this.counters, messagesPosted: { ...this.counters.messagesPosted }, webhooks: { ...this.dispatcher.stats } };
  }

  /** Resolves when every webhook delivery started so far has been answered. */
  deliveriesIdle(): Promise<void> {
    return this.dispatcher.idle();
  }

  /** Resolves with the first message (existing or future) that matches; rejects after `timeoutMs`. */
  waitForMessage(predicate: (m: EmuMessage) => boolean, timeoutMs = 5_000): Promise<EmuMessage> {
    const pick = (e: unknown) => {
      const { message } = e as { message: EmuMessage };
      return predicate(message) ? message : undefined;
    };
    return this.waitFor('message', pick, this.world.messages.find(predicate), timeoutMs);
  }

  /** Resolves with the first webhook (existing or future) that matches. */
  waitForWebhook(predicate: (w: EmuWebhook) => boolean, timeoutMs = 5_000): Promise<EmuWebhook> {
    const pick = (e: unknown) => {
      const { webhook } = e as { webhook: EmuWebhook };
      return predicate(webhook) ? webhook : undefined;
    };
    return this.waitFor('webhook', pick, this.webhooks().find(predicate), timeoutMs);
  }

  private waitFor<T>(event: 'message' | 'webhook', pick: (payload: unknown) => T | undefined, existing: T | undefined, timeoutMs: number): Promise<T> {
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise<T>((resolve, reject) => {
      const listener = (e: unknown) => {
        const found = pick(e);
        if (found === undefined) return;
        clearTimeout(timer);
        this.world.events.off(event, listener as never);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.world.events.off(event, listener as never);
        reject(new Error(`No matching ${event} within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.world.events.on(event, listener as never);
    });
  }

  private faultGate() {
    return (req: Request, res: Response, next: NextFunction): void => {
      if (req.path.startsWith('/_emulator')) return next();
      this.counters.requests++;
      this.requestLog.push({ method: req.method, path: req.path });
      const fault = this.faults.take(req.method, req.path);
      if (!fault) return next();
      if (fault.status === 429) this.counters.tooManyRequests++;
      sendWebexError(res, fault.status, fault.status === 429 ? 'Too many requests have been sent; try again later.' : `Injected fault ${fault.status}.`, fault.retryAfterSeconds);
    };
  }
}

/** The organisation uuid inside ORG_ID, the third field of a real bot token. */
const ORG_UUID = Buffer.from(ORG_ID, 'base64url').toString('utf8').split('/').pop() ?? '';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
