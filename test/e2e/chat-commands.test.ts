import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmuMessage } from '../../src/emulators/webex/model.js';
import { startRunningBot, type RunningBot } from '../../src/sandbox/running-bot.js';
import { TALOS_ROUNDUPS_DIR } from '../support/fixtures.js';

/** Each command typed by an analyst in an emulated room, answered through the real bot. */
describe('chat commands, end to end', () => {
  let bot: RunningBot;
  let roomId: string;
  beforeAll(async () => {
    bot = await startRunningBot({}, { talosDir: TALOS_ROUNDUPS_DIR });
    roomId = bot.world.webex.createRoomAsPerson('Commands', ['alice@example.com']).id;
  });
  afterAll(async () => {
    await bot?.stop();
  });

  async function ask(text: string, who = 'alice@example.com'): Promise<EmuMessage> {
    const { webex } = bot.world;
    const before = webex.messages(roomId).length;
    const sent = webex.postAsPerson(who, roomId, text, { mentionBot: true });
    return webex.waitForMessage((m) => m.roomId === roomId && m.personId === webex.bot.id && m.parentId === sent.id && webex.messages(roomId).indexOf(m) >= before, 10_000);
  }
  const textOf = (m: EmuMessage) => `${m.markdown ?? ''} ${m.text ?? ''} ${JSON.stringify(m.attachments ?? [])}`;

  it('help lists every command', async () => {
    const reply = textOf(await ask('help'));
    for (const c of ['hunt now', 'hunt blog', 'hunt status', 'incidents', 'close']) expect(reply).toContain(c);
  });

  it('hunt status says what ran and what comes next', async () => {
    const reply = textOf(await ask('hunt status'));
    expect(reply).toMatch(/next/i);
  });

  it('hunt blog hunts an allow-listed roundup URI', async () => {
    const uri = `${bot.world.talos.url}/Cisco-Talos/Threat-Round-Up/master/2021/1203.json`;
    const reply = textOf(await ask(`hunt blog ${uri}`));
    expect(reply).toMatch(/started|hunt/i);
    await bot.app.hunts.idle();
    expect(bot.app.store.get().hunts.at(-1)).toMatchObject({ uri, status: 'finished' });
  });

  it('incidents and close work on correlation data, with the closest command for typos', async () => {
    expect(textOf(await ask('incidents'))).toMatch(/no open incidents|0 open|none/i);
    expect(textOf(await ask('hunt nwo'))).toContain('hunt now');
    expect(textOf(await ask('close nosuchhost'))).toMatch(/No open incident for/);
  });

  it('absorbs 429 answers from Webex: the reply still arrives once', async () => {
    bot.world.webex.injectFault({ pathPattern: '^/v1/messages$', method: 'POST', status: 429, count: 2, retryAfterSeconds: 1 });
    const reply = await ask('help');
    expect(textOf(reply)).toContain('hunt now');
    const replies = bot.world.webex.messages(roomId).filter((m) => m.parentId === reply.parentId && m.personId === bot.world.webex.bot.id);
    expect(replies).toHaveLength(1);
  });

  it('refuses admin commands to analysts outside WEBEX_ADMINS', async () => {
    const outsider = bot.world.webex.people().find((p) => p.id !== bot.world.webex.bot.id && !['alice@example.com', 'bob@example.com'].includes(p.emails[0]!))!;
    const reply = textOf(await ask('close anything', outsider.emails[0]));
    expect(reply).toMatch(/admin/i);
  });
});
