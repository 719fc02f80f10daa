/** Resource shapes the emulator stores and returns, field for field as Webex does (webex.md §3). */
export interface EmuPerson {
  id: string;
  emails: string[];
  displayName: string;
  nickName: string;
  firstName: string;
  lastName: string;
  orgId: string;
  type: 'person' | 'bot';
  created: string;
}

export interface EmuRoom {
  id: string;
  title: string;
  type: 'group' | 'direct';
  isLocked: boolean;
  lastActivity: string;
  creatorId: string;
  created: string;
  ownerId: string;
  isReadOnly: boolean;
}

export interface EmuMembership {
  id: string;
  roomId: string;
  personId: string;
  personEmail: string;
  personDisplayName: string;
  personOrgId: string;
  isModerator: boolean;
  isMonitor: boolean;
  isRoomHidden: boolean;
  roomType: 'group' | 'direct';
  created: string;
}

export interface EmuCard {
  contentType: string;
  content: Record<string, unknown>;
}

export interface EmuMessage {
  id: string;
  roomId: string;
  roomType: 'group' | 'direct';
  text?: string;
  markdown?: string;
  html?: string;
  personId: string;
  personEmail: string;
  mentionedPeople?: string[];
  attachments?: EmuCard[];
  parentId?: string;
  created: string;
}

export interface EmuAction {
  id: string;
  type: 'submit';
  messageId: string;
  inputs: Record<string, unknown>;
  personId: string;
  roomId: string;
  created: string;
}

export interface EmuWebhook {
  id: string;
  name: string;
  targetUrl: string;
  resource: string;
  event: string;
  filter?: string;
  secret?: string;
  status: 'active' | 'inactive';
  created: string;
  orgId: string;
  createdBy: string;
  appId: string;
  ownedBy: 'creator' | 'org';
}

/** What `emulator.events` emits; `actorId` is who caused it. */
export interface WorldEvents {
  room: [{ room: EmuRoom; actorId: string }];
  membership: [{ membership: EmuMembership; actorId: string }];
  message: [{ message: EmuMessage; actorId: string }];
  action: [{ action: EmuAction; actorId: string }];
  webhook: [{ webhook: EmuWebhook }];
}

/** What the webhook body carries: ids only, never the text (webex.md §3.6). */
export function messageDeliveryData(m: EmuMessage): Record<string, unknown> {
  return {
    id: m.id,
    roomId: m.roomId,
    roomType: m.roomType,
    personId: m.personId,
    personEmail: m.personEmail,
    ...(m.mentionedPeople ? { mentionedPeople: m.mentionedPeople } : {}),
    ...(m.parentId ? { parentId: m.parentId } : {}),
    created: m.created,
  };
}
