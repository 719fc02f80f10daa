import type { Server } from 'node:http';
import type { Express } from 'express';
import type { WebexWorld } from '../world.js';
import { cardActionActivity, postActivity } from './activity.js';
import { createDeviceRouters, DeviceRegistry } from './devices.js';
import { MercuryServer, type MercuryStats } from './mercury.js';
import { createWebsocketTestRouter } from './test-routes.js';

export { websocketHostCatalog, websocketServiceLinks } from './catalog-links.js';

export interface WebsocketStats extends MercuryStats {
  devices: number;
  devicesRegistered: number;
  devicesDeleted: number;
  metricsPosts: number;
}

/**
 * The emulator's websocket side (webex-websocket.md §1-§4): WDM devices, client metrics
 * and the Mercury socket, delivering `conversation.activity` frames for what each
 * connected person may see, with the same rules as webhook delivery (a bot sees group
 * messages only when mentioned). Unlike webhooks, the bot's own posts come back too,
 * as they do from the real cloud.
 */
export class WebsocketSide {
  readonly devices = new DeviceRegistry();
  readonly mercury: MercuryServer;
  private origin = '';

  constructor(
    private readonly world: WebexWorld,
    private readonly tokens: Map<string, string>,
  ) {
    this.mercury = new MercuryServer(this.devices, tokens);
    world.events.on('message', ({ message, actorId }) => {
      const author = world.personById(actorId);
      if (!author) return;
      for (const l of this.mercury.listeners()) {
        if (!world.isMember(message.roomId, l.personId)) continue;
        const own = l.personId === actorId;
        const listener = world.personById(l.personId);
        const mentioned = message.mentionedPeople?.includes(l.personId) ?? false;
        if (message.roomType === 'group' && listener?.type === 'bot' && !own && !mentioned) continue;
        l.send(postActivity(message, author, { conversationBase: this.conversationBase, roomType: message.roomType }));
      }
    });
    world.events.on('action', ({ action, actorId }) => {
      const person = world.personById(actorId);
      const card = world.messages.find((m) => m.id === action.messageId);
      if (!person || !card) return;
      const roomType = world.rooms.get(action.roomId)?.type ?? 'group';
      // A submit goes to the app that posted the card.
      for (const l of this.mercury.listeners()) if (l.personId === card.personId) l.send(cardActionActivity(action, person, { conversationBase: this.conversationBase, roomType }));
    });
  }

  private get conversationBase(): string {
    return `${this.origin}/conversation/api/v1`;
  }

  mount(app: Express): void {
    // Deleting a device leaves its socket open, as observed (webex-websocket.md §5.1): closing it is the client's job.
    const { wdm, metrics } = createDeviceRouters(this.devices, this.tokens, () => undefined);
    app.use('/wdm/api/v1', wdm);
    app.use('/metrics/api/v1', metrics);
    app.use('/_emulator/websocket', createWebsocketTestRouter(this.mercury, () => this.stats()));
  }

  attach(server: Server, origin: string): void {
    this.origin = origin;
    this.mercury.attach(server);
  }

  stats(): WebsocketStats {
    return {
      ...this.mercury.stats,
      devices: this.devices.all().length,
      devicesRegistered: this.devices.counts.registered,
      devicesDeleted: this.devices.counts.deleted,
      metricsPosts: this.devices.counts.metricsPosts,
    };
  }

  /** Resolves when `probe(stats)` holds (polled every 20 ms); rejects after `timeoutMs`. */
  async until(probe: (s: WebsocketStats) => boolean, timeoutMs = 5_000): Promise<WebsocketStats> {
    const deadline = Date.now() + timeoutMs;
    while (!probe(this.stats())) {
      if (Date.now() > deadline) throw new Error(`websocket emulator: condition not met within ${timeoutMs} ms (${JSON.stringify(this.stats())})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.stats();
  }

  close(): Promise<void> {
    return this.mercury.close();
  }
}
