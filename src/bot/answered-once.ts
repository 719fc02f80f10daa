import type { Logger } from '../core/logger.js';
import type { BotEvent, BotEventHandler } from './events.js';

/**
 * Several instances, one room (PostgreSQL mode): in websocket mode each instance's device receives
 * every message and card click, so each event is answered only by the instance that claims its id
 * first. When the claim cannot be made (the database does not answer), the event is answered anyway:
 * an analyst who gets two answers is better off than one who gets none.
 */
export function answeredOnce(handler: BotEventHandler, claim: (eventId: string) => Promise<boolean>, logger: Logger): BotEventHandler {
  return {
    async handle(event: BotEvent): Promise<void> {
      const id = event.kind === 'message' ? event.messageId : event.actionId;
      let mine = true;
      try {
        mine = await claim(id);
      } catch (err) {
        logger.warn({ err: (err as Error).message, event: id }, 'could not check whether another instance answers this chat event; answering it here');
      }
      if (!mine) {
        logger.debug({ event: id }, 'another instance answers this chat event');
        return;
      }
      await handler.handle(event);
    },
  };
}
