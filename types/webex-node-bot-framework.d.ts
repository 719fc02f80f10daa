/**
 * The slice of webex-node-bot-framework 2.3.14 that Sightline uses (it ships no
 * types, webex.md §1.2). Only what framework-pump.ts touches is declared; the
 * payload objects are typed loosely on purpose and validated with zod where used.
 */
declare module 'webex-node-bot-framework' {
  import type { EventEmitter } from 'node:events';

  export interface FrameworkOptions {
    token: string;
    webhookUrl?: string;
    webhookSecret?: string;
    maxStartupSpaces?: number;
    messageFormat?: 'text' | 'markdown' | 'html';
    removeWebhooksOnStart?: boolean;
    /** Mis-wired in 2.3.14 (webex.md §1.3): passing it at all turns it into removeWebhooksOnStart. Never pass it. */
    removeDeviceRegistrationsOnStart?: never;
    httpsProxy?: string;
    fedramp?: boolean;
  }

  export interface FrameworkPerson {
    id: string;
    emails: string[];
    displayName: string;
    type?: string;
  }

  export interface FrameworkBot {
    id: string;
    room: { id: string; title?: string; type?: 'group' | 'direct' };
    isDirect?: boolean;
  }

  export interface FrameworkTrigger {
    type: 'message' | 'attachmentAction';
    id: string;
    text?: string;
    message?: unknown;
    attachmentAction?: unknown;
    person?: FrameworkPerson;
    personId?: string;
  }

  export default class Framework extends EventEmitter {
    constructor(options: FrameworkOptions);
    /** Resolves before webhooks exist in webhook mode (webex.md §1.3). */
    start(): PromiseLike<boolean>;
    stop(): PromiseLike<boolean>;
    readonly active: boolean;
    readonly initialized: boolean;
    person: FrameworkPerson;
    email: string;
    on(event: 'message', listener: (bot: FrameworkBot, trigger: FrameworkTrigger, id: string) => void): this;
    on(event: 'attachmentAction', listener: (bot: FrameworkBot, trigger: FrameworkTrigger, id: string) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}

declare module 'webex-node-bot-framework/webhook.js' {
  import type Framework from 'webex-node-bot-framework';
  /** An Express-style `(req, res)` handler; it answers 200 before checking the signature. */
  export default function webhook(framework: Framework): (req: unknown, res?: unknown) => PromiseLike<unknown>;
}
