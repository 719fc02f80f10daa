import { isIP } from 'node:net';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import { normaliseTargetValue } from '../investigate/target-identity.js';

/**
 * How `close <target>` finds the open incident an analyst means, whichever store holds it:
 * `host`, `type:value`, a MAC in any notation, an IP, or an incident id. The store answers
 * the lookups; the order they are tried in lives here only.
 */

/** Target types an analyst may prefix explicitly, as in `user:jdoe` (xdr-api.md §4.2 target identifiers). */
const TARGET_TYPES = new Set([
  'hostname', 'mac_address', 'ip', 'ipv6', 'amp_computer_guid', 'ms_machine_id', 's1_agent_id',
  'crowdstrike_id', 'user', 'email', 'device', 'serial_number', 'odns_identity', 'odns_identity_label',
]);

const MAC = /^(?:[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12})$/i;

type Maybe<T> = T | undefined | Promise<T | undefined>;

export interface OpenIncidentLookups<I> {
  /** The open incident of a target key. */
  openByKey(key: string): Maybe<I>;
  /** An incident (open or not) by local id, XDR short id or XDR long id. */
  byId(id: string): Maybe<I>;
  isOpen(incident: I): boolean;
  /** Any open incident whose target value is one of these (no type given and the guess missed). */
  openByValue(values: string[]): Maybe<I>;
}

/** The open incident for a target typed by an analyst; throws a ValidationError when nothing was typed. */
export async function findOpenIncident<I>(typed: string, lookups: OpenIncidentLookups<I>): Promise<I | undefined> {
  const raw = typed.trim().replace(/^`|`$/g, '');
  if (raw === '') throw new ValidationError('Say which target to close, e.g. `close desktop-au3ip5k` or `close mac_address:00:0c:29:0f:6f:0a`.');
  const prefix = /^([a-z0-9_]+):(.+)$/i.exec(raw);
  if (prefix && TARGET_TYPES.has(prefix[1]!.toLowerCase())) {
    const type = prefix[1]!.toLowerCase();
    return lookups.openByKey(`${type}:${normaliseTargetValue(type, prefix[2]!)}`);
  }
  const guessed = guessType(raw);
  const direct = await lookups.openByKey(`${guessed}:${normaliseTargetValue(guessed, raw)}`);
  if (direct) return direct;
  const byId = await lookups.byId(raw);
  if (byId && lookups.isOpen(byId)) return byId;
  // No type given and the guess missed (a user name, a GUID…): any open target with that value.
  return lookups.openByValue([...new Set(['hostname', 'mac_address', 'ip', 'ipv6', 'other'].map((t) => normaliseTargetValue(t, raw)))]);
}

function guessType(raw: string): string {
  const ip = isIP(raw);
  if (ip === 4) return 'ip';
  if (ip === 6) return 'ipv6';
  if (MAC.test(raw)) return 'mac_address';
  return 'hostname';
}

/** The sentences both incident services answer with, so chat reads the same on either store. */
export function noOpenIncident(target: string): NotFoundError {
  return new NotFoundError(`No open incident for ${target.trim()}: try \`incidents\` to see open ones`);
}

export function closedMeanwhile(target: string): NotFoundError {
  return new NotFoundError(`No open incident for ${target.trim()}: it was closed meanwhile; try \`incidents\` to see open ones`);
}

export function unknownIncident(incidentId: string): NotFoundError {
  return new NotFoundError(`No incident ${incidentId}: try \`incidents all\` to see the ones Sightline keeps`);
}
