import { UpstreamError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Store } from '../../store/store.js';
import type { WebexApi } from './port.js';

/**
 * Finds or creates the bot's rooms by title (Webex has no title filter, webex.md §3.1).
 * Order: the title → id map in the store, then paging through the bot's group rooms,
 * then creating the room. Configured members are added (idempotently: 409 is success)
 * the first time a room is resolved in this process, so a restart repairs a room
 * whose members were removed, without adding members on every post. A stored id
 * Webex no longer knows (404/403 while adding members) is forgotten and looked up again.
 *
 * Concurrent callers asking for the same title share one lookup/creation, so two
 * notifications racing at start-up never create two rooms.
 */
export interface RoomDirectoryOptions {
  api: WebexApi;
  store: Store;
  members: string[];
  logger: Logger;
  /**
   * Several instances (PostgreSQL mode): runs the look-up-or-create of a room under a lock they
   * share, so two instances posting to a new room at the same moment make one room, not two.
   */
  exclusive?: <T>(work: () => Promise<T>) => Promise<T>;
}

export class RoomDirectory {
  private readonly api: WebexApi;
  private readonly store: Store;
  private readonly members: string[];
  private readonly logger: Logger;
  private readonly exclusive: <T>(work: () => Promise<T>) => Promise<T>;
  private readonly inFlight = new Map<string, Promise<string>>();
  /** Titles whose membership was ensured in this process. */
  private readonly resolved = new Map<string, string>();

  constructor(opts: RoomDirectoryOptions) {
    this.api = opts.api;
    this.store = opts.store;
    this.members = opts.members;
    this.logger = opts.logger.child({ component: 'webex-rooms' });
    this.exclusive = opts.exclusive ?? ((work) => work());
  }

  ensureRoom(title: string): Promise<string> {
    const known = this.resolved.get(title);
    if (known) return Promise.resolve(known);
    const pending = this.inFlight.get(title);
    if (pending) return pending;
    const work = this.resolve(title).finally(() => this.inFlight.delete(title));
    this.inFlight.set(title, work);
    return work;
  }

  /** Forgets a room id (e.g. after Webex answered 404 for it) so the next call looks it up again. */
  async forget(title: string): Promise<void> {
    this.resolved.delete(title);
    await this.store.update((state) => {
      delete state.rooms[title];
    });
  }

  private async resolve(title: string): Promise<string> {
    const stored = this.store.get().rooms[title];
    if (stored) {
      try {
        return await this.adopt(title, stored);
      } catch (err) {
        // The stored room was deleted or the bot was removed from it: look it up again.
        if (!(err instanceof UpstreamError && (err.status === 404 || err.status === 403))) throw err;
        this.logger.warn({ title, roomId: stored }, 'stored Webex room is gone; looking it up again');
        await this.forget(title);
      }
    }
    return this.adopt(title, await this.exclusive(async () => (await this.findByTitle(title)) ?? (await this.create(title))));
  }

  private async adopt(title: string, roomId: string): Promise<string> {
    for (const email of this.members) await this.api.addMember(roomId, email);
    if (this.store.get().rooms[title] !== roomId) {
      await this.store.update((state) => {
        state.rooms[title] = roomId;
      });
    }
    this.resolved.set(title, roomId);
    return roomId;
  }

  private async findByTitle(title: string): Promise<string | undefined> {
    for await (const room of this.api.listRooms({ type: 'group', max: 1000 })) {
      if (room.title === title) {
        this.logger.info({ title, roomId: room.id }, 'found existing Webex room');
        return room.id;
      }
    }
    return undefined;
  }

  private async create(title: string): Promise<string> {
    const room = await this.api.createRoom(title);
    this.logger.info({ title, roomId: room.id }, 'created Webex room');
    return room.id;
  }
}
