/**
 * CSS selectors of the sandbox page (src/sandbox/web), for browser tests. Plain
 * data: app.js sets the same `data-testid` attributes, and test/sandbox/browser.test.ts
 * uses every one of these, so a rename that breaks one fails that test.
 */
export const SANDBOX = {
  roomList: '[data-testid="room-list"]',
  roomItem: '[data-testid="room-item"]',
  newSpaceButton: '[data-testid="new-space"]',
  newSpaceTitle: '[data-testid="new-space-title"]',
  roomTitle: '[data-testid="room-title"]',
  stream: '[data-testid="stream"]',
  message: '[data-testid="message"]',
  messageAuthor: '[data-testid="message-author"]',
  messageText: '[data-testid="message-text"]',
  thread: '[data-testid="thread"]',
  /** The root element adaptivecards renders for each card. */
  card: '.ac-adaptiveCard',
  /** A card button (Action.Submit / Action.OpenUrl / Action.ShowCard). */
  cardButton: '.ac-pushButton',
  cardFeedback: '[data-testid="card-feedback"]',
  compose: '[data-testid="compose"]',
  analystPicker: '[data-testid="analyst-picker"]',
  tabSpaces: '[data-testid="tab-spaces"]',
  tabMailbox: '[data-testid="tab-mailbox"]',
  tabSightings: '[data-testid="tab-sightings"]',
  mailBadge: '[data-testid="mail-badge"]',
  mailItem: '[data-testid="mail-item"]',
  mailSubject: '[data-testid="mail-subject"]',
  mailBody: '[data-testid="mail-body"]',
  sightingsTarget: '[data-testid="sightings-target"]',
  sightingsIoc: '[data-testid="sightings-ioc"]',
  sightingsIocType: '[data-testid="sightings-ioc-type"]',
  sightingsCount: '[data-testid="sightings-count"]',
  sightingsSend: '[data-testid="sightings-send"]',
  sightingsResult: '[data-testid="sightings-result"]',
  status: '[data-testid="status"]',
} as const;

/** A room in the left rail by its exact title (titles are quoted, so keep them free of `"`). */
export function roomItemByTitle(title: string): string {
  return `${SANDBOX.roomItem}[data-title="${title}"]`;
}

/** A message by its Webex message id. */
export function messageById(messageId: string): string {
  return `${SANDBOX.message}[data-message-id="${messageId}"]`;
}
