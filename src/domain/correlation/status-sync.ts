import type { Logger } from '../../core/logger.js';
import type { XdrPort } from '../ports/xdr.js';
import { RemoteStatuses } from './remote-statuses.js';
import type { Incident } from './types.js';

/** What the status sync needs from the store it runs on (lowdb or PostgreSQL). */
export interface StatusSyncPorts {
  xdr: Pick<XdrPort, 'getIncident' | 'incidentStatusesSince'>;
  logger: Logger;
  /** The open incidents that have an XDR id; walked twice (the oldest first, then each). */
  openMirrored(): AsyncIterable<Incident> | Iterable<Incident>;
  isClosed(status: string): boolean;
  stopping(): boolean;
  /** Closes the incident here, not mirrored back; false when it was no longer open. */
  close(incidentId: string, status: string): Promise<boolean>;
  /** Records a status (not a close); need not be durable before `flush`. */
  setStatus(incidentId: string, status: string): Promise<void>;
  /** Makes the recorded statuses durable, once at the end. */
  flush?(): Promise<void>;
}

/**
 * Respects what analysts did in the XDR console: an open incident XDR says is closed is closed
 * here (not mirrored back), another status is recorded. The statuses are read with a few
 * searches, not one XDR call each (remote-statuses.ts). Stops at the first XDR failure; the next
 * run tries again.
 */
export async function syncStatuses(ports: StatusSyncPorts): Promise<{ checked: number; closed: number }> {
  let count = 0;
  let oldestOpenedAt: string | undefined;
  for await (const inc of ports.openMirrored()) {
    count++;
    if (oldestOpenedAt === undefined || inc.openedAt < oldestOpenedAt) oldestOpenedAt = inc.openedAt;
  }
  const remote = new RemoteStatuses(ports.xdr, { count, ...(oldestOpenedAt ? { oldestOpenedAt } : {}) });
  let checked = 0;
  let closed = 0;
  for await (const inc of ports.openMirrored()) {
    if (ports.stopping()) break;
    checked++;
    let status;
    try {
      status = await remote.statusOf(inc.xdrId!);
    } catch (err) {
      ports.logger.warn({ err, incident: inc.id }, 'could not read the incident status from XDR; will try again');
      break;
    }
    if (!status || status === inc.status) continue;
    if (ports.isClosed(status)) {
      if (await ports.close(inc.id, status)) closed++;
    } else {
      await ports.setStatus(inc.id, status);
    }
  }
  await ports.flush?.();
  return { checked, closed };
}
