import { RoomDirectory } from '../clients/webex/rooms.js';
import { EmailChannel } from '../notify/email/channel.js';
import type { Channel } from '../notify/notification.js';
import { Outbox } from '../notify/outbox.js';
import { DeliveryReceipts, receiptsPathFor } from '../notify/receipts.js';
import { stormPolicyFor } from '../notify/storm.js';
import { WebexChannel } from '../notify/webex-channel.js';
import type { Infrastructure } from './infrastructure.js';
import type { Base, NotifyPart } from './parts.js';

/** The durable outbox and the channels it delivers to (e-mail, Webex rooms). */
export interface Notify extends NotifyPart {
  outbox: Outbox;
  /** Who learns the Webex message id of an incident's card (the correlation engine, wired after it exists). */
  onIncidentCardPosted(handler: (incidentId: string, messageId: string) => Promise<void>): void;
}

/**
 * The channels notifications go to: e-mail (when SMTP is set) and the Webex rooms (when Webex is on).
 * `onCardPosted` learns the message id of each incident's card (threaded updates reply to it).
 */
export function buildChannels(
  infra: Base,
  onCardPosted: (incidentId: string, messageId: string) => Promise<void> | undefined,
  /** Several instances: a room is looked up or created under their shared lock (RoomDirectory). */
  roomsExclusive?: <T>(work: () => Promise<T>) => Promise<T>,
): Channel[] {
  const { config, store, logger } = infra;
  const channels: Channel[] = [];
  if (config.email.enabled) channels.push(new EmailChannel({ config: config.email, logger: logger.child({ component: 'email' }) }));
  if (infra.webex) {
    const rooms = new RoomDirectory({ api: infra.webex.api, store, members: config.webex.roomMembers, logger, ...(roomsExclusive ? { exclusive: roomsExclusive } : {}) });
    channels.push(
      new WebexChannel({
        api: infra.webex.api.notifications,
        rooms,
        huntRoom: config.webex.huntRoom,
        incidentsRoom: config.webex.incidentsRoom,
        logger: logger.child({ component: 'webex-channel' }),
        onPosted: (n, messageId) => (n.kind === 'incident_opened' ? onCardPosted(n.incident.id, messageId) : undefined),
      }),
    );
  }
  return channels;
}

export async function openNotify(infra: Infrastructure): Promise<Notify> {
  const { config, store, clock, logger } = infra;
  let onCardPosted: ((incidentId: string, messageId: string) => Promise<void>) | undefined;
  const channels = buildChannels(infra, (incidentId, messageId) => onCardPosted?.(incidentId, messageId));

  const receipts = await DeliveryReceipts.open(receiptsPathFor(config.stateFile));
  const storm = config.webex.storm;
  const stormPolicy = storm.enabled
    ? stormPolicyFor({ messagesPerMinute: infra.webex?.api.notificationsPerMinute ?? config.webex.maxMessagesPerMinute, thresholdMinutes: storm.thresholdMinutes, digestSeconds: storm.digestSeconds })
    : undefined;
  const outbox = new Outbox(store, channels, clock, logger.child({ component: 'outbox' }), receipts, stormPolicy);
  // Before anything can queue or deliver: what was delivered just before a crash is not sent again.
  await outbox.recover();

  return {
    name: 'notify',
    outbox,
    channels,
    onIncidentCardPosted: (handler) => {
      onCardPosted = handler;
    },
    start: () => outbox.start(),
    stop: (step) => step('outbox', () => outbox.stop().then(() => receipts.close())),
  };
}
