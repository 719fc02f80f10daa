import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/core/errors.js';
import { ADMIN, BOT_ID, ask, cardClick, harness, message } from './fakes.js';

describe('error boundary', () => {
  it('answers an unexpected failure with a sentence naming the command, and the next command still works', async () => {
    const h = harness();
    h.incidents.closeError = new TypeError("Cannot read properties of undefined (reading 'id')");
    expect(await ask(h, 'close host-1')).toBe("Something went wrong running `close`; the details are in Sightline's log.");
    expect(await ask(h, 'hunt now')).toContain('Hunt started');
    const failed = h.logs.find((l) => l.msg === 'command failed');
    expect(failed).toMatchObject({ command: 'close', by: ADMIN, code: 'internal' });
    expect(JSON.stringify(failed)).toContain("reading 'id'");
  });

  it('passes a typed error’s user message on to the sender', async () => {
    const h = harness();
    h.incidents.closeError = new UpstreamError('xdr', 'Cisco XDR is not answering; try again in a few minutes.', { status: 503 });
    expect(await ask(h, 'close host-1')).toBe('Cisco XDR is not answering; try again in a few minutes.');
  });

  it('a throwing status() after a started hunt still confirms the hunt', async () => {
    const h = harness();
    h.hunts.status = () => {
      throw new Error('store busy');
    };
    expect(await ask(h, 'hunt now')).toBe('Hunt started `hunt-1`; cards will follow in **TALOS ROUNDUP Investigation**.');
  });
});

describe('what is ignored and what is logged', () => {
  it('ignores the bot’s own messages and clicks', async () => {
    const h = harness();
    await h.bot.handle(message('help', { personId: BOT_ID }));
    await h.bot.handle(cardClick({ action: 'close_incident', target: 'x' }, { personId: BOT_ID }));
    expect(h.api.posted).toEqual([]);
    expect(h.incidents.calls).toEqual([]);
  });

  it('logs every command with who ran it, the room, the outcome and the message id as correlation id', async () => {
    const h = harness();
    await h.bot.handle(message('incidents banana', { messageId: 'msg-corr-1', personEmail: 'carol@soc.example.com' }));
    const line = h.logs.find((l) => l.msg === 'bot command handled');
    expect(line).toMatchObject({
      component: 'bot-commands',
      correlationId: 'msg-corr-1',
      command: 'incidents',
      by: 'carol@soc.example.com',
      roomId: 'room-soc',
      outcome: 'malformed',
      delivered: true,
    });
  });
});

describe('posting replies', () => {
  it('retries unthreaded when Webex refuses the thread, and only then', async () => {
    const h = harness();
    h.api.failures = [new UpstreamError('webex', 'Webex refused the message.', { status: 400 })];
    await h.bot.handle(message('help', { messageId: 'in-thread' }));
    expect(h.api.posted).toHaveLength(1);
    expect(h.api.posted[0]?.parentId).toBeUndefined();

    const h2 = harness();
    h2.api.failures = [new UpstreamError('webex', 'Webex is down.', { status: 503 })];
    await h2.bot.handle(message('help'));
    expect(h2.api.posted).toEqual([]); // a 5xx may have posted already: no duplicate
    expect(h2.logs.find((l) => l.msg === 'bot command handled')).toMatchObject({ delivered: false });
    expect(await ask(h2, 'help')).toContain('Sightline commands'); // and the bot lives on
  });

  it('keeps every reply within Webex’s 7439-byte markdown limit', async () => {
    const h = harness();
    h.incidents.closeError = new UpstreamError('xdr', `XDR said: ${'é'.repeat(9000)}`, { status: 400 });
    const reply = await ask(h, 'close host-1');
    expect(new TextEncoder().encode(reply).length).toBeLessThanOrEqual(7439);
    expect(reply.endsWith('…')).toBe(true);
  });
});
