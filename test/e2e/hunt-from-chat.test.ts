import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fridayOfWeek } from '../../src/domain/talos/week.js';
import { startRunningBot, waitUntil, type RunningBot } from '../../src/sandbox/running-bot.js';

/**
 * An analyst drives a hunt from a Webex room; everything runs against the
 * emulators over real HTTP: Webex (signed webhooks), XDR, Talos feed, SMTP.
 */
describe('hunt from chat, end to end', () => {
  let bot: RunningBot;
  beforeAll(async () => {
    bot = await startRunningBot();
  });
  afterAll(async () => {
    await bot?.stop();
  });

  it('`hunt now` runs this week\'s roundup and posts cards into a room created on demand', async () => {
    const { webex, talos, xdr, smtp } = bot.world;
    // Talos publishes this week's roundup (the real 2021-07-23 file) under this week's Friday.
    const friday = fridayOfWeek(new Date(), 'America/New_York');
    talos.publish(friday, '2021/0723.json');
    const room = webex.createRoomAsPerson('SOC analysts', ['alice@example.com']);
    webex.postAsPerson('alice@example.com', room.id, 'hunt now', { mentionBot: true });

    const ack = await webex.waitForMessage((m) => m.roomId === room.id && m.personId === webex.bot.id, 10_000);
    expect(ack.markdown ?? ack.text).toMatch(/hunt/i);

    await bot.app.talosHunts.idle(); // this week's posts (Cisco-Talos/IOCs), then the roundup
    await bot.app.outbox.drain();
    const huntRoom = await waitUntil(() => webex.rooms().find((r) => r.title === 'TALOS ROUNDUP Investigation'), 'the hunt room');
    expect(huntRoom.members).toEqual(expect.arrayContaining(['alice@example.com', 'bob@example.com']));
    const posted = webex.messages(huntRoom.id);
    const cards = posted.filter((m) => m.attachments?.length);
    expect(cards.length).toBeGreaterThan(2);
    expect(posted[0]!.markdown).toMatch(/started/i);
    // The demo scenario sights some IOCs on a few hosts: target cards and casebooks exist.
    const targetCards = posted.filter((m) => /target/i.test(m.markdown ?? '') && m.attachments?.length);
    expect(targetCards.length).toBeGreaterThan(0);
    const casebooks = Object.values(xdr.state.casebook ?? {});
    expect(casebooks.length).toBeGreaterThan(0);
    const titles = casebooks.map((c) => String((c as unknown as { title: string }).title));
    expect(titles.some((t) => /^Talos Roundup – /.test(t))).toBe(true);
    // The sandbox's posts of this week are hunted too, one casebook named after the sighted post.
    expect(titles.some((t) => /^Talos – UAT-10147/.test(t))).toBe(true);

    await waitUntil(() => smtp.messages.find((m) => /finished|summary/i.test(m.subject)), 'the summary e-mail');
    expect(smtp.messages.some((m) => /Investigation started/i.test(m.subject))).toBe(true);
    expect(smtp.messages.some((m) => /^Found targets - /.test(m.subject))).toBe(true);
    expect(bot.app.store.get().talos.lastHuntedWeek).toBe(friday);
  });

  it('refuses `hunt blog` for a host outside the allow-list, with the reason', async () => {
    const { webex } = bot.world;
    const room = webex.createRoomAsPerson('SOC analysts 2', ['alice@example.com']);
    webex.postAsPerson('alice@example.com', room.id, 'hunt blog http://169.254.169.254/latest/meta-data', { mentionBot: true });
    const reply = await webex.waitForMessage((m) => m.roomId === room.id && m.personId === webex.bot.id, 10_000);
    expect(reply.markdown ?? reply.text).toMatch(/allow|refus|not/i);
  });

  it('refuses a hunt to someone who is not an admin', async () => {
    const { webex } = bot.world;
    const analyst = webex.people().find((p) => !['alice@example.com', 'bob@example.com'].includes(p.emails[0]!) && p.id !== webex.bot.id)!;
    const room = webex.createRoomAsPerson('SOC analysts 3', [analyst.emails[0]!]);
    webex.postAsPerson(analyst.emails[0]!, room.id, 'hunt now', { mentionBot: true });
    const reply = await webex.waitForMessage((m) => m.roomId === room.id && m.personId === webex.bot.id, 10_000);
    expect(reply.markdown ?? reply.text).toMatch(/admin/i);
  });
});
