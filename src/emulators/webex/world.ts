import { EventEmitter } from 'node:events';
import { WebexHttpError } from './http-error.js';
import { hydraId } from './ids.js';
import type { EmuAction, EmuCard, EmuMembership, EmuMessage, EmuPerson, EmuRoom, EmuWebhook, WorldEvents } from './model.js';

export const ORG_ID = hydraId('ORGANIZATION', '1eb65fdf-9643-417f-9974-ad72cae0e10f');
const APP_ID = hydraId('APPLICATION', 'C80fb9c7096bd8474627317ee1d7a817eff372ca9c9cee3ce43c3ea3e8d1511ec');

export interface PersonSeed {
  email: string;
  displayName: string;
}

/**
 * The emulator's in-memory Webex: people, rooms, memberships, messages, card
 * actions and webhooks. Every change is emitted on `events` (the webhook
 * dispatcher, the SSE stream and tests listen there). Routers translate HTTP to
 * these calls; failures are WebexHttpError with Webex's status and wording.
 */
export class WebexWorld {
  readonly events = new EventEmitter<WorldEvents>();
  readonly bot: EmuPerson;
  private readonly people = new Map<string, EmuPerson>();
  readonly rooms = new Map<string, EmuRoom>();
  readonly memberships: EmuMembership[] = [];
  readonly messages: EmuMessage[] = [];
  private readonly actions = new Map<string, EmuAction>();
  readonly webhooks = new Map<string, EmuWebhook>();
  /** Order of every message ever posted (deleted ones keep their place), for the test API's `since` cursor. */
  private readonly sequence = new Map<string, number>();
  private nextSeq = 1;

  constructor(bot: PersonSeed, analysts: PersonSeed[]) {
    this.bot = this.addPerson(bot, 'bot');
    for (const a of analysts) this.addPerson(a, 'person');
  }

  addPerson(seed: PersonSeed, type: 'person' | 'bot' = 'person'): EmuPerson {
    const [firstName = seed.displayName, ...rest] = seed.displayName.split(' ');
    const person: EmuPerson = {
      id: hydraId('PEOPLE'),
      emails: [seed.email.toLowerCase()],
      displayName: seed.displayName,
      nickName: firstName,
      firstName,
      lastName: rest.join(' '),
      orgId: ORG_ID,
      type,
      created: now(),
    };
    this.people.set(person.id, person);
    return person;
  }

  personById(id: string): EmuPerson | undefined {
    return this.people.get(id);
  }

  personByEmail(email: string): EmuPerson | undefined {
    const wanted = email.toLowerCase();
    return [...this.people.values()].find((p) => p.emails.includes(wanted));
  }

  /** Webex invites unknown addresses; the emulator simply creates the person. */
  personOrInvite(email: string): EmuPerson {
    return this.personByEmail(email) ?? this.addPerson({ email, displayName: email.split('@')[0] ?? email });
  }

  allPeople(): EmuPerson[] {
    return [...this.people.values()];
  }

  room(id: string): EmuRoom {
    const room = this.rooms.get(id);
    if (!room) throw new WebexHttpError(404, 'The requested resource could not be found.');
    return room;
  }

  isMember(roomId: string, personId: string): boolean {
    return this.memberships.some((m) => m.roomId === roomId && m.personId === personId);
  }

  createRoom(title: string, creator: EmuPerson, type: 'group' | 'direct' = 'group'): EmuRoom {
    const created = now();
    const room: EmuRoom = { id: hydraId('ROOM'), title, type, isLocked: false, lastActivity: created, creatorId: creator.id, created, ownerId: ORG_ID, isReadOnly: false };
    this.rooms.set(room.id, room);
    this.events.emit('room', { room, actorId: creator.id });
    this.addMembership(room.id, creator, creator);
    return room;
  }

  addMembership(roomId: string, person: EmuPerson, actor: EmuPerson): EmuMembership {
    const room = this.room(roomId);
    if (this.isMember(roomId, person.id)) throw new WebexHttpError(409, 'Person is already in the room.');
    const membership: EmuMembership = {
      id: hydraId('MEMBERSHIP'),
      roomId,
      personId: person.id,
      personEmail: person.emails[0] ?? '',
      personDisplayName: person.displayName,
      personOrgId: person.orgId,
      isModerator: false,
      isMonitor: false,
      isRoomHidden: false,
      roomType: room.type,
      created: now(),
    };
    this.memberships.push(membership);
    this.events.emit('membership', { membership, actorId: actor.id });
    return membership;
  }

  /** The 1:1 room between the bot and a person, created on first use like Webex does. */
  directRoom(person: EmuPerson): EmuRoom {
    const existing = [...this.rooms.values()].find((r) => r.type === 'direct' && this.isMember(r.id, person.id) && this.isMember(r.id, this.bot.id));
    if (existing) return existing;
    // A direct room's title, seen by the bot, is the other person's display name (webex.md §3.1).
    const room = this.createRoom(person.displayName, person, 'direct');
    this.addMembership(room.id, this.bot, person);
    return room;
  }

  postMessage(author: EmuPerson, roomId: string, content: { text?: string; markdown?: string; html?: string; mentionedPeople?: string[]; attachments?: EmuCard[]; parentId?: string }): EmuMessage {
    // Webex answers a deleted room and a room the caller is not in alike: it does not say which.
    const room = this.rooms.get(roomId);
    if (!room || !this.isMember(roomId, author.id)) throw new WebexHttpError(404, 'Could not find a room with provided ID.');
    if (content.parentId && !this.messages.some((m) => m.id === content.parentId && m.roomId === roomId)) {
      throw new WebexHttpError(400, 'Parent message not found in this room.');
    }
    const message: EmuMessage = {
      id: hydraId('MESSAGE'),
      roomId,
      roomType: room.type,
      ...stripUndefined(content),
      // Webex derives plain text from markdown when only markdown is sent.
      ...(content.text === undefined && content.markdown !== undefined ? { text: content.markdown.replace(/[*_`#>]/g, '') } : {}),
      personId: author.id,
      personEmail: author.emails[0] ?? '',
      created: now(),
    };
    this.messages.push(message);
    this.sequence.set(message.id, this.nextSeq++);
    room.lastActivity = message.created;
    this.events.emit('message', { message, actorId: author.id });
    return message;
  }

  /** Messages (every room, everyone's) posted after `cursor`, oldest first, and the cursor to ask with next. */
  messagesSince(cursor = 0): { items: EmuMessage[]; cursor: number } {
    const items = this.messages.filter((m) => (this.sequence.get(m.id) ?? 0) > cursor);
    return { items, cursor: this.nextSeq - 1 };
  }

  /** A moderator or a retention policy deletes a message; threaded replies to it then get 400. */
  deleteMessage(id: string): void {
    const at = this.messages.findIndex((m) => m.id === id);
    if (at < 0) throw new WebexHttpError(404, 'The requested resource could not be found.');
    this.messages.splice(at, 1);
  }

  /** Someone removes a person (e.g. the bot) from a room. */
  removeMember(roomId: string, personId: string): void {
    this.room(roomId);
    const at = this.memberships.findIndex((m) => m.roomId === roomId && m.personId === personId);
    if (at < 0) throw new WebexHttpError(404, 'The requested resource could not be found.');
    this.memberships.splice(at, 1);
  }

  /** The room is deleted with its memberships and messages. */
  deleteRoom(roomId: string): void {
    this.room(roomId);
    this.rooms.delete(roomId);
    for (let i = this.memberships.length - 1; i >= 0; i--) if (this.memberships[i]!.roomId === roomId) this.memberships.splice(i, 1);
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i]!.roomId === roomId) this.messages.splice(i, 1);
  }

  message(id: string): EmuMessage {
    const message = this.messages.find((m) => m.id === id);
    if (!message) throw new WebexHttpError(404, 'The requested resource could not be found.');
    return message;
  }

  submitAction(person: EmuPerson, messageId: string, inputs: Record<string, unknown>): EmuAction {
    const message = this.message(messageId);
    if (!message.attachments?.length) throw new WebexHttpError(400, 'The message has no card to submit.');
    if (!this.isMember(message.roomId, person.id)) throw new WebexHttpError(403, 'The person is not a member of the room.');
    const action: EmuAction = { id: hydraId('ATTACHMENT_ACTION'), type: 'submit', messageId, inputs, personId: person.id, roomId: message.roomId, created: now() };
    this.actions.set(action.id, action);
    this.events.emit('action', { action, actorId: person.id });
    return action;
  }

  action(id: string): EmuAction {
    const action = this.actions.get(id);
    if (!action) throw new WebexHttpError(404, 'The requested resource could not be found.');
    return action;
  }

  createWebhook(owner: EmuPerson, w: { name: string; targetUrl: string; resource: string; event: string; filter?: string; secret?: string }): EmuWebhook {
    const webhook: EmuWebhook = { id: hydraId('WEBHOOK'), ...stripUndefined(w), status: 'active', created: now(), orgId: ORG_ID, createdBy: owner.id, appId: APP_ID, ownedBy: 'creator' };
    this.webhooks.set(webhook.id, webhook);
    this.events.emit('webhook', { webhook });
    return webhook;
  }

  deleteWebhook(id: string): void {
    if (!this.webhooks.delete(id)) throw new WebexHttpError(404, 'The requested resource could not be found.');
  }
}

function now(): string {
  return new Date().toISOString();
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
