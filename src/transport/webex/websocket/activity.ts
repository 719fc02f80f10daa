import { z } from 'zod';

/**
 * A Mercury `conversation.activity` (webex-websocket.md §3), reduced to the ids Sightline
 * needs. Real activities carry encrypted content, so nothing else is trusted from them:
 * the message and the card action are read over REST with the bot's own client.
 */
const activitySchema = z.object({
  id: z.string().min(1),
  verb: z.string(),
  actor: z.object({ id: z.string().optional(), entryUUID: z.string().optional(), emailAddress: z.string().optional() }).optional(),
  parent: z.object({ id: z.string() }).optional(),
  target: z.object({ id: z.string(), url: z.string().optional(), tags: z.array(z.string()).default([]) }).optional(),
});

export type ActivityRef =
  | { kind: 'message'; eventId: string; messageId: string; roomId: string; roomType: 'group' | 'direct'; actorUuid: string; actorEmail?: string }
  | { kind: 'card_action'; eventId: string; actionId: string; messageId?: string; roomId: string; roomType: 'group' | 'direct'; actorUuid: string; actorEmail?: string };

/** Hydra ids are base64url of `ciscospark://<cluster>/<KIND>/<uuid>`; the SDK uses "us" for the original US cluster. */
export function hydraIdOf(kind: 'MESSAGE' | 'ROOM' | 'PEOPLE' | 'ATTACHMENT_ACTION', uuid: string, cluster = 'us'): string {
  return Buffer.from(`ciscospark://${cluster}/${kind}/${uuid}`).toString('base64url');
}

/** The uuid inside a Hydra id (its last path segment). */
export function uuidOfHydraId(id: string): string {
  const decoded = Buffer.from(id, 'base64url').toString('utf8');
  return decoded.slice(decoded.lastIndexOf('/') + 1);
}

/**
 * The ids of a post or card submit, or undefined for activities the bot does not act on
 * (edits, deletes, membership changes, malformed frames).
 */
export function activityRef(raw: unknown, cluster = 'us'): ActivityRef | undefined {
  const parsed = activitySchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const a = parsed.data;
  const actorUuid = a.actor?.entryUUID ?? a.actor?.id;
  if (!a.target || !actorUuid) return undefined;
  const common = {
    eventId: a.id,
    roomId: hydraIdOf('ROOM', a.target.id, cluster),
    roomType: a.target.tags.includes('ONE_ON_ONE') ? ('direct' as const) : ('group' as const),
    actorUuid,
    ...(a.actor?.emailAddress ? { actorEmail: a.actor.emailAddress } : {}),
  };
  if (a.verb === 'post') return { kind: 'message', messageId: hydraIdOf('MESSAGE', a.id, cluster), ...common };
  if (a.verb === 'cardAction') {
    return { kind: 'card_action', actionId: hydraIdOf('ATTACHMENT_ACTION', a.id, cluster), ...(a.parent ? { messageId: hydraIdOf('MESSAGE', a.parent.id, cluster) } : {}), ...common };
  }
  return undefined;
}
