import type { EmuAction, EmuMessage, EmuPerson } from '../model.js';

/** The uuid inside a Hydra id: the last path segment of the decoded id (webex-websocket.md §3). */
export function uuidOf(hydraId: string): string {
  const decoded = Buffer.from(hydraId, 'base64url').toString('utf8');
  return decoded.slice(decoded.lastIndexOf('/') + 1);
}

export interface ActivityContext {
  conversationBase: string;
  roomType: 'group' | 'direct';
}

function actor(person: EmuPerson) {
  const id = uuidOf(person.id);
  return { objectType: 'person', id, entryUUID: id, emailAddress: person.emails[0] ?? '', displayName: person.displayName };
}

function target(roomId: string, ctx: ActivityContext) {
  const id = uuidOf(roomId);
  return { objectType: 'conversation', id, url: `${ctx.conversationBase}/conversations/${id}`, tags: ctx.roomType === 'direct' ? ['ONE_ON_ONE'] : [] };
}

/** A `conversation.activity` with verb `post`: ids only, as Mercury sends (the text is read over REST). */
export function postActivity(message: EmuMessage, author: EmuPerson, ctx: ActivityContext): Record<string, unknown> {
  const id = uuidOf(message.id);
  return {
    id,
    objectType: 'activity',
    verb: 'post',
    published: message.created,
    actor: actor(author),
    object: { objectType: 'comment', id },
    target: target(message.roomId, ctx),
  };
}

/** A `conversation.activity` with verb `cardAction` (a card submit). */
export function cardActionActivity(action: EmuAction, person: EmuPerson, ctx: ActivityContext): Record<string, unknown> {
  return {
    id: uuidOf(action.id),
    objectType: 'activity',
    verb: 'cardAction',
    published: action.created,
    actor: actor(person),
    object: { objectType: 'submit', inputs: action.inputs },
    parent: { id: uuidOf(action.messageId) },
    target: target(action.roomId, ctx),
  };
}
