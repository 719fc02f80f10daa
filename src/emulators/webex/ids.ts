import { randomUUID } from 'node:crypto';

/**
 * Webex ("Hydra") ids are base64url, without padding, of `ciscospark://us/<KIND>/<uuid>`.
 * The SDK's people batcher decodes ids and re-encodes anything that does not look
 * like this, so toy ids break the framework (webex.md §2.2 item 1).
 */
export type HydraKind = 'PEOPLE' | 'ROOM' | 'MESSAGE' | 'MEMBERSHIP' | 'WEBHOOK' | 'ATTACHMENT_ACTION' | 'ORGANIZATION' | 'APPLICATION';

export function hydraId(kind: HydraKind, uuid: string = randomUUID()): string {
  return Buffer.from(`ciscospark://us/${kind}/${uuid}`).toString('base64url');
}

/** The kind inside a Hydra id, or undefined when the string is not one. */
export function hydraKind(id: string): string | undefined {
  const decoded = Buffer.from(id, 'base64url').toString('utf8');
  return /^ciscospark:\/\/[a-z0-9-]+\/([A-Z_]+)\//.exec(decoded)?.[1];
}

export function trackingId(): string {
  return `ROUTER_${randomUUID().toUpperCase()}`;
}
