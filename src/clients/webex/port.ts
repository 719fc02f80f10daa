/**
 * What Sightline needs from the Webex REST API. All bot logic depends on this
 * interface; `WebexHttpApi` implements it over undici (webex.md §2.5).
 */
export interface WebexPerson {
  id: string;
  emails: string[];
  displayName: string;
  type?: 'person' | 'bot';
  orgId?: string;
}

export interface WebexRoom {
  id: string;
  title: string;
  type: 'group' | 'direct';
  created?: string;
}

export interface AdaptiveCardAttachment {
  contentType: 'application/vnd.microsoft.card.adaptive';
  content: Record<string, unknown>;
}

export interface NewMessage {
  roomId?: string;
  toPersonEmail?: string;
  markdown?: string;
  text?: string;
  attachments?: AdaptiveCardAttachment[];
  parentId?: string;
}

export interface WebexMessage {
  id: string;
  roomId: string;
  roomType?: 'group' | 'direct';
  personId: string;
  personEmail: string;
  text?: string;
  markdown?: string;
  html?: string;
  parentId?: string;
  mentionedPeople?: string[];
  attachments?: AdaptiveCardAttachment[];
  created: string;
}

export interface AttachmentAction {
  id: string;
  type: 'submit';
  messageId: string;
  personId: string;
  roomId: string;
  inputs: Record<string, unknown>;
  created: string;
}

export interface WebexWebhook {
  id: string;
  name: string;
  targetUrl: string;
  resource: string;
  event: string;
  secret?: string;
  status?: string;
}

export interface WebexApi {
  me(): Promise<WebexPerson>;
  getPerson(personId: string): Promise<WebexPerson>;
  listRooms(opts?: { type?: 'group' | 'direct'; max?: number }): AsyncIterable<WebexRoom>;
  createRoom(title: string): Promise<WebexRoom>;
  /** Idempotent: "already a member" (409) counts as success. */
  addMember(roomId: string, personEmail: string): Promise<void>;
  postMessage(msg: NewMessage): Promise<WebexMessage>;
  /** How long a post made now would wait for the bot's own rate limit (ms; see throttle.ts). Absent: never. */
  postWaitMs?(now?: number): number;
  getMessage(id: string): Promise<WebexMessage>;
  getAttachmentAction(id: string): Promise<AttachmentAction>;
  listWebhooks(): Promise<WebexWebhook[]>;
  createWebhook(w: { name: string; targetUrl: string; resource: string; event: string; secret?: string; filter?: string }): Promise<WebexWebhook>;
  deleteWebhook(id: string): Promise<void>;
}
