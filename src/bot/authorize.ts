import type { WebexApi } from '../clients/webex/port.js';
import type { Command } from './commands/command.js';

/**
 * Who may ask Sightline what, and where (peers.md §1.7: Splunk SOAR's per-command
 * permits and member allow-list).
 *
 * Decisions, so operators can predict the bot:
 * - `allowedRooms` (ids or titles) applies to every room, 1:1 rooms included: an
 *   operator who confines the bot to spaces would not expect anyone to bypass that
 *   by messaging it directly. Empty = any room.
 * - `allowedDomains` (e-mail domains, exact match) — empty = any domain.
 * - Admin-only commands need the sender in `admins`. With no admins configured they
 *   are refused, with a sentence telling the operator to set WEBEX_ADMINS: an empty
 *   list is far more often a forgotten setting than a wish to let everyone close
 *   incidents.
 * - Refusals are always answered with one sentence, in group spaces too: bots only
 *   see messages that @mention them there (webex.md §3.9), so each answer is to an
 *   explicit request — no spam — and silence would look like a broken bot.
 */
export interface AuthPolicy {
  allowedRooms: string[];
  allowedDomains: string[];
  admins: string[];
}

export type RoomTitleLookup = (roomId: string) => Promise<string | undefined>;

export type RefusalReason = 'room' | 'room_unchecked' | 'domain' | 'admin' | 'no_admins';
export type AuthDecision = { allowed: true } | { allowed: false; reason: RefusalReason; message: string };

export interface Requester {
  roomId: string;
  personEmail: string;
}

const lower = (s: string) => s.trim().toLowerCase();

async function roomAllowed(requester: Requester, policy: AuthPolicy, lookup?: RoomTitleLookup): Promise<AuthDecision> {
  if (policy.allowedRooms.length === 0 || policy.allowedRooms.includes(requester.roomId)) return { allowed: true };
  let title: string | undefined;
  try {
    title = lookup ? await lookup(requester.roomId) : undefined;
  } catch {
    return {
      allowed: false,
      reason: 'room_unchecked',
      message: "I couldn't check whether this space may use Sightline (Webex did not answer); please try again in a minute.",
    };
  }
  const allowedTitles = new Set(policy.allowedRooms.map(lower));
  if (title !== undefined && allowedTitles.has(lower(title))) return { allowed: true };
  return {
    allowed: false,
    reason: 'room',
    message: "Sightline doesn't take commands in this space; ask a Sightline admin to add it to WEBEX_ALLOWED_ROOMS, or use one of the allowed spaces.",
  };
}

function domainAllowed(requester: Requester, policy: AuthPolicy): AuthDecision {
  if (policy.allowedDomains.length === 0) return { allowed: true };
  const domain = lower(requester.personEmail.slice(requester.personEmail.lastIndexOf('@') + 1));
  const allowed = policy.allowedDomains.some((d) => lower(d).replace(/^@/, '') === domain);
  if (allowed && requester.personEmail.includes('@')) return { allowed: true };
  // The allowed domains are not listed: the asker may be outside the organisation.
  return {
    allowed: false,
    reason: 'domain',
    message: "Sightline only takes commands from people in its allowed e-mail domains; ask a Sightline admin to add yours to WEBEX_ALLOWED_DOMAINS.",
  };
}

function adminAllowed(requester: Requester, command: Pick<Command, 'adminOnly' | 'adminAction' | 'name'>, policy: AuthPolicy): AuthDecision {
  if (!command.adminOnly) return { allowed: true };
  const action = command.adminAction ?? `use \`${command.name}\``;
  if (policy.admins.length === 0) {
    return {
      allowed: false,
      reason: 'no_admins',
      message: `Only Sightline admins can ${action}, and none are configured; ask the operator to set WEBEX_ADMINS.`,
    };
  }
  if (policy.admins.map(lower).includes(lower(requester.personEmail))) return { allowed: true };
  return { allowed: false, reason: 'admin', message: `Only Sightline admins can ${action}; ask an admin or get added to WEBEX_ADMINS.` };
}

/**
 * Room, then domain, then (for a known command) admin. `command` is undefined for
 * text that is not a command yet: strangers get the room/domain refusal, not hints.
 */
export async function authorize(
  requester: Requester,
  command: Pick<Command, 'adminOnly' | 'adminAction' | 'name'> | undefined,
  policy: AuthPolicy,
  lookupRoomTitle?: RoomTitleLookup,
): Promise<AuthDecision> {
  const room = await roomAllowed(requester, policy, lookupRoomTitle);
  if (!room.allowed) return room;
  const domain = domainAllowed(requester, policy);
  if (!domain.allowed || !command) return domain;
  return adminAllowed(requester, command, policy);
}

/**
 * Room titles by id from the bot's own room list (Webex has no title lookup,
 * webex.md §3.1). Cached; an unknown id re-reads the list once, shared by
 * concurrent callers. A room renamed while Sightline runs keeps its old title
 * here until restart — acceptable for an allow-list an operator edits rarely.
 */
export function roomTitleLookup(api: Pick<WebexApi, 'listRooms'>): RoomTitleLookup {
  const titles = new Map<string, string>();
  let refreshing: Promise<void> | undefined;
  const refresh = async () => {
    for await (const room of api.listRooms({ max: 1000 })) titles.set(room.id, room.title);
  };
  return async (roomId) => {
    if (titles.has(roomId)) return titles.get(roomId);
    refreshing ??= refresh().finally(() => {
      refreshing = undefined;
    });
    await refreshing;
    return titles.get(roomId);
  };
}
