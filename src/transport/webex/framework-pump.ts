import type { RequestHandler } from 'express';
import express from 'express';
import { actionCoreSchema, messageCoreSchema } from '../../clients/webex/api.js';
import type { BotEvent, BotEventHandler } from '../../bot/events.js';
import type { Logger } from '../../core/logger.js';
import { messageEventOf } from './mention.js';
import { installSdkRejectionGuard } from './websocket/sdk-rejection-guard.js';
import { bounded } from './websocket/socket-port.js';
import type Framework from 'webex-node-bot-framework';
import type { FrameworkBot, FrameworkTrigger } from 'webex-node-bot-framework';

/**
 * webex-node-bot-framework used as an EVENT PUMP only (webex.md §2.5 "Production B"):
 * it receives events over its websocket (no public URL needed) and we turn them into
 * `BotEvent`s. Everything we send goes through our own WebexApi, never the SDK.
 *
 * Defences against the framework's known defects (webex.md §1.3, §2.4):
 * - `maxStartupSpaces: 0`: no O(spaces) start-up crawl; rooms are discovered just in time;
 * - `removeDeviceRegistrationsOnStart` is never passed (mis-wired: it would delete all devices);
 * - an `unhandledRejection` guard for the SDK's own rejections only (one 5xx on its batched
 *   people lookup otherwise kills the process); anything else still crashes. Removed by `stop()`.
 * - the framework is loaded with a dynamic `import()` inside `start()`, because the SDK
 *   reads HYDRA_SERVICE_URL / U2C_SERVICE_URL once, when it is first loaded.
 *
 * Not used by the app any more: websocket mode runs on the SDK's socket alone
 * (./websocket/), webhook mode on our own route (webhook-route.ts), which verifies raw-byte
 * signatures. Kept for the offline adapter test (§2.2) and for anyone who wants the framework.
 */
export interface FrameworkPumpOptions {
  token: string;
  handler: BotEventHandler;
  logger: Logger;
  webhook?: { url: string; secret: string };
}

export class FrameworkPump {
  private framework: Framework | undefined;
  private webhookFn: ((req: unknown, res?: unknown) => PromiseLike<unknown>) | undefined;
  private readonly logger: Logger;
  private removeGuard: (() => void) | undefined;

  constructor(private readonly opts: FrameworkPumpOptions) {
    this.logger = opts.logger.child({ component: 'webex-framework' });
  }

  async start(): Promise<void> {
    if (this.framework) return;
    this.removeGuard ??= installSdkRejectionGuard(this.logger);
    const { default: FrameworkClass } = await import('webex-node-bot-framework');
    const framework = new FrameworkClass({
      token: this.opts.token,
      maxStartupSpaces: 0,
      messageFormat: 'markdown',
      ...(this.opts.webhook ? { webhookUrl: this.opts.webhook.url, webhookSecret: this.opts.webhook.secret, removeWebhooksOnStart: false } : {}),
    });
    framework.on('message', (bot, trigger) => this.pump(() => this.messageEvent(framework, bot, trigger)));
    framework.on('attachmentAction', (_bot, trigger) => this.pump(() => this.actionEvent(trigger)));
    if (this.opts.webhook) this.webhookFn = (await import('webex-node-bot-framework/webhook.js')).default(framework);
    this.framework = framework;
    try {
      await framework.start();
    } catch (err) {
      // A failed start leaves nothing marked as started: the next start() tries again (§5.4).
      await this.stop().catch(() => undefined);
      throw err;
    }
    this.logger.info({ mode: this.opts.webhook ? 'webhook' : 'websocket', bot: framework.email }, 'Webex event pump started');
  }

  async stop(): Promise<void> {
    const framework = this.framework;
    this.framework = undefined;
    this.webhookFn = undefined;
    try {
      // framework.stop() only deletes the device; the socket stays open and the SDK reconnects
      // when it later drops (webex-websocket.md §5.1). Closed first, bounded: it can hang if it never opened.
      const mercury = (framework as unknown as { webex?: { internal?: { mercury?: { disconnect(): Promise<void> } } } } | undefined)?.webex?.internal?.mercury;
      if (mercury) await bounded(mercury.disconnect(), 3000, undefined).catch(() => undefined);
      if (framework) await framework.stop();
    } finally {
      this.removeGuard?.();
      this.removeGuard = undefined;
    }
  }

  /** The express handler for webhook mode (JSON body, as the framework expects). */
  webhookHandler(): RequestHandler[] {
    return [
      express.json({ limit: '64kb' }),
      (req, res) => {
        if (!this.webhookFn) return void res.status(503).json({ error: 'the Webex event pump is not running' });
        void Promise.resolve(this.webhookFn(req, res)).catch((err: unknown) => this.logger.error({ err }, 'framework webhook failed'));
      },
    ];
  }

  private pump(build: () => BotEvent | undefined): void {
    let event: BotEvent | undefined;
    try {
      event = build();
    } catch (err) {
      this.logger.warn({ err }, 'Webex event had an unexpected shape; ignored');
      return;
    }
    if (event) void this.opts.handler.handle(event).catch((err: unknown) => this.logger.error({ err, kind: event.kind }, 'event handler failed'));
  }

  private messageEvent(framework: Framework, bot: FrameworkBot, trigger: FrameworkTrigger): BotEvent | undefined {
    const m = messageCoreSchema.parse(trigger.message);
    if (m.personId === framework.person.id) return undefined;
    return messageEventOf(m, bot.room.type, framework.person.displayName);
  }

  private actionEvent(trigger: FrameworkTrigger): BotEvent {
    const a = actionCoreSchema.parse(trigger.attachmentAction);
    return { kind: 'card_action', actionId: a.id, messageId: a.messageId, roomId: a.roomId, personId: a.personId, personEmail: trigger.person?.emails[0] ?? '', inputs: a.inputs };
  }
}
