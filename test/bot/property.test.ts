import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ADMIN, ANALYST, BOT_ID, harness, message } from './fakes.js';

// Words the parser knows, so random strings often get close to real commands.
const vocabulary = fc.constantFrom('help', 'hunt', 'now', 'blog', 'status', 'incidents', 'open', 'closed', 'all', 'close', '/', '"', '2', '0', 'https://x.example/a.json', '`', '<', '>', ' ', '\n', 'Sightline', '\u200B');
const commandish = fc.array(fc.oneof(vocabulary, fc.string({ maxLength: 12 })), { maxLength: 8 }).map((parts) => parts.join(' '));
const anyText = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 60 }), commandish);

describe('handle() under random input', () => {
  // Documented silence: only the bot's own messages get no reply. Everything else gets exactly one.
  it('never throws and always answers exactly once, for admins, analysts and outsiders, in group and 1:1 rooms', async () => {
    const h = harness({ allowedDomains: ['soc.example.com'] });
    await fc.assert(
      fc.asyncProperty(anyText, fc.constantFrom(ADMIN, ANALYST, 'eve@elsewhere.example'), fc.boolean(), async (text, personEmail, direct) => {
        const before = h.api.posted.length;
        h.hunts.running = undefined;
        await expect(
          h.bot.handle(message(text, { roomType: direct ? 'direct' : 'group', personEmail })),
        ).resolves.toBeUndefined();
        const replies = h.api.posted.slice(before);
        expect(replies).toHaveLength(1);
        expect(replies[0]?.markdown?.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('stays silent for its own messages whatever they say', async () => {
    const h = harness();
    await fc.assert(
      fc.asyncProperty(anyText, async (text) => {
        await h.bot.handle(message(text, { personId: BOT_ID }));
      }),
      { numRuns: 200 },
    );
    expect(h.api.posted).toEqual([]);
  });
});
