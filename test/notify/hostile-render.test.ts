import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALLOWED_MENTIONS,
  BOT_URLS,
  findLeaks,
  hostileNotification,
  hostileReply,
  renderNotification,
  renderReply,
  type Rendered,
} from '../../reliability/hostile/markup.js';
import { renderForWebex } from '../../src/notify/cards/index.js';
import { renderEmail } from '../../src/notify/email/render.js';
import { incident } from './fixtures.js';

/**
 * Issue 17 items 3, 4, 6: every card and message the bot can send, built from
 * hostile values in every field, carries no link, mention token or control
 * character the bot did not put there.
 */
function leaks(rendered: Rendered[]): string[] {
  return rendered.flatMap((r) => findLeaks(r).map((p) => `${r.where}: ${p}`));
}

describe('hostile values in every field of every card and message', () => {
  it('notifications (Webex markdown, card text, e-mail) show them inert', () => {
    fc.assert(
      fc.property(hostileNotification(), (n) => {
        expect(leaks(renderNotification(n))).toEqual([]);
      }),
      { numRuns: 250 },
    );
  });

  it('chat replies (markdown and card forms) show them inert', () => {
    fc.assert(
      fc.property(hostileReply(), (r) => {
        expect(leaks(renderReply(r))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('still carries the links and the mention the bot means', () => {
    const n = { kind: 'rung_fired' as const, incident: { ...incident, url: BOT_URLS.incident }, rung: 'gte 3', action: 'mention', mention: ['oncall@corp.example'], dryRun: false };
    const [m] = renderForWebex(n);
    expect(m!.markdown).toContain(ALLOWED_MENTIONS[0]);
    expect(m!.markdown).toContain(`](${BOT_URLS.incident})`);
  });
});

describe('the detector finds what it is looking for (so the properties above can fail)', () => {
  const at = (text: string, markdown = true): string[] => findLeaks({ where: 't', text, markdown });
  it('flags a foreign link, a bare URL, a mention, a control character and an injected block', () => {
    expect(at('see [Reset](https://evil.example/login)')).not.toEqual([]);
    expect(at('see https://evil.example/login')).not.toEqual([]);
    expect(at('hi <@all>')).not.toEqual([]);
    expect(at('hi \\<@personEmail:a@b.example|A>')).not.toEqual([]);
    expect(at('AMP\r# x')).not.toEqual([]);
    expect(at('desktop\u200b-1')).not.toEqual([]);
    expect(at('x\n# PWNLINE')).not.toEqual([]);
    expect(at('<a href="https://evil.example">x</a>', false)).not.toEqual([]);
  });
  it('lets the bot own links and mentions through', () => {
    expect(at(`[casebook](${BOT_URLS.casebook}) ${ALLOWED_MENTIONS[0]}\n- line`)).toEqual([]);
  });
});

describe('the payloads of issue 17, one by one', () => {
  const card = (targetValue: string) => JSON.stringify(renderForWebex({ kind: 'incident_opened', incident: { ...incident, targetValue } })[0]!.card);
  it('a markdown link in a target value is not a link in the card heading', () => {
    const json = card('[Reset your VPN password](https://evil.example/login)');
    expect(json).not.toContain('](https://evil.example');
    expect(json).toContain('Reset your VPN password');
  });
  it('a lone \\r cannot start a heading or a quote (AMP\\r\\r# ALL HOSTS COMPROMISED)', () => {
    const n = { kind: 'incident_opened' as const, incident: { ...incident, lastSource: 'AMP\r\r# ALL HOSTS COMPROMISED\r\r> click' } };
    const [m] = renderForWebex(n);
    expect(m!.markdown).not.toMatch(/^\s*# ALL HOSTS/m);
    expect(m!.markdown).not.toMatch(/\r/);
    const mail = renderEmail(n)!;
    expect(mail.text).not.toMatch(/\r/);
  });
  it('zero-width and bidi characters are shown, not hidden', () => {
    const [m] = renderForWebex({ kind: 'incident_opened', incident: { ...incident, targetValue: 'desktop\u200b-1\u202e' } });
    expect(m!.markdown).toContain('desktop⟨U+200B⟩-1⟨U+202E⟩');
  });
  it('<@all> and <@personEmail:…> never reach Webex, in code spans or not', () => {
    const [m] = renderForWebex({ kind: 'incident_opened', incident: { ...incident, targetValue: '<@all>', lastIoc: { type: 'email', value: '<@personEmail:ceo@corp.example|CEO>' }, lastSource: '<@all>' } });
    expect(m!.markdown).not.toMatch(/<\s*@/);
    expect(JSON.stringify(m!.card)).not.toMatch(/<\s*@/);
  });
});
