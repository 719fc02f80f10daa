/**
 * One door in: every input becomes one of these and goes to `handle(event)`.
 * Transports (Webex websocket, Webex webhooks, tests) only produce them.
 */
export interface ChatMessageEvent {
  kind: 'message';
  messageId: string;
  roomId: string;
  roomType: 'group' | 'direct';
  personId: string;
  personEmail: string;
  /** The text with any leading @mention of the bot already removed. */
  text: string;
  parentId?: string;
}

export interface CardActionEvent {
  kind: 'card_action';
  actionId: string;
  messageId: string;
  roomId: string;
  personId: string;
  personEmail: string;
  inputs: Record<string, unknown>;
}

export type BotEvent = ChatMessageEvent | CardActionEvent;

export interface BotEventHandler {
  handle(event: BotEvent): Promise<void>;
}
