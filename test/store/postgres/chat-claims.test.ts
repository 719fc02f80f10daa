import { describe, expect, it } from 'vitest';
import { answeredOnce } from '../../../src/bot/answered-once.js';
import type { BotEvent } from '../../../src/bot/events.js';
import { createLogger } from '../../../src/core/logger.js';
import { chatClaims } from '../../../src/store/postgres/chat-claims.js';
import { testPostgres, useTwoInstances } from '../../support/postgres.js';

const server = await testPostgres();
const logger = createLogger({ level: 'silent' });

const message = (messageId: string): BotEvent => ({ kind: 'message', messageId, roomId: 'room-1', roomType: 'group', personId: 'analyst', personEmail: 'a@example.com', text: 'incidents' }) as BotEvent;

describe.skipIf(!server)('chat events answered by one instance (PostgreSQL)', () => {
  const db = useTwoInstances(server!);

  it('answers each message on exactly one of two instances that both receive it', async () => {
    const answered: string[] = [];
    const instance = (name: string, pool: typeof db.a) =>
      answeredOnce({ handle: async (e) => void answered.push(`${name}:${e.kind === 'message' ? e.messageId : e.actionId}`) }, chatClaims(pool, name).claim, logger);
    const a = instance('a', db.a);
    const b = instance('b', db.b);
    const ids = Array.from({ length: 40 }, (_, i) => `msg-${i}`);
    await Promise.all(ids.flatMap((id) => [a.handle(message(id)), b.handle(message(id))]));
    expect(answered).toHaveLength(ids.length);
    expect(new Set(answered.map((x) => x.split(':')[1]))).toEqual(new Set(ids));
    // A redelivery of an answered message is not answered again.
    await a.handle(message('msg-0'));
    expect(answered).toHaveLength(ids.length);
  });

  it('answers anyway when the claim cannot be made, and says so in the log', async () => {
    const seen: string[] = [];
    const warnings: unknown[] = [];
    const log = { ...logger, warn: (o: unknown) => void warnings.push(o), debug: () => undefined } as unknown as typeof logger;
    const handler = answeredOnce({ handle: async () => void seen.push('x') }, () => Promise.reject(new Error('PostgreSQL cannot be reached')), log);
    await handler.handle(message('msg-down'));
    expect(seen).toEqual(['x']);
    expect(warnings).toHaveLength(1);
  });

  it('forgets claims older than a day', async () => {
    const claims = chatClaims(db.a, 'a');
    await claims.claim('old');
    await claims.claim('new');
    await db.a.query(`UPDATE chat_claims SET claimed_at = now() - interval '25 hours' WHERE event_id = 'old'`);
    expect(await claims.prune()).toBe(1);
    expect(await claims.claim('old')).toBe(true);
    expect(await claims.claim('new')).toBe(false);
  });
});
