import { describe, expect, it } from 'vitest';
import type { InvestigationReport, ObservableView } from '../../../src/domain/investigate/report.js';
import { MAX_CARD_BUTTONS, MAX_DETAILED, renderActionConfirmation, renderInvestigation } from '../../../src/notify/cards/investigation.js';
import { cardBytes, MAX_CARD_BYTES } from '../../../src/notify/cards/limits.js';
import { parseWithAdaptiveCards } from './card-schema.js';

const view = (value: string, verdict: ObservableView['verdict'], extra: Partial<ObservableView> = {}): ObservableView => ({
  observable: { type: 'domain', value },
  verdict,
  modules: [{ module: 'Umbrella', verdict }],
  sightedOn: [],
  links: [],
  actions: [],
  ...extra,
});

const report = (observables: ObservableView[], extra: Partial<InvestigationReport> = {}): InvestigationReport => ({
  observables,
  targets: [],
  rejected: [],
  otherLinks: [],
  moduleErrors: [],
  truncated: false,
  ...extra,
});

function submits(card: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    if (o.type === 'Action.Submit') out.push(o.data as Record<string, unknown>);
    Object.values(o).forEach(walk);
  };
  walk(card);
  return out;
}

describe('investigation card', () => {
  it(`details at most ${MAX_DETAILED} observables and counts the rest by verdict`, () => {
    const many = [...Array.from({ length: 30 }, (_, i) => view(`bad${i}.example`, 'Malicious')), ...Array.from({ length: 10 }, (_, i) => view(`u${i}.example`, 'Unknown'))];
    const out = renderInvestigation(report(many));
    const json = JSON.stringify(out.card);
    expect(json).toContain('bad24.example');
    expect(json).not.toContain('bad25.example');
    expect(json).toContain('And 15 more, not shown in detail: 5 Malicious, 10 Unknown.');
    expect(cardBytes(out.card!)).toBeLessThanOrEqual(MAX_CARD_BYTES);
    expect(parseWithAdaptiveCards(out.card).problems).toEqual([]);
  });

  it('says plainly when everything is Clean', () => {
    const out = renderInvestigation(report([view('microsoft.com', 'Clean'), view('cisco.com', 'Clean')]));
    expect(out.markdown).toContain("XDR's modules call all 2 Clean. Nothing to do.");
    expect(JSON.stringify(out.card)).toContain('All 2 observables are Clean');
  });

  it('escapes hostile values and links only http(s) addresses', () => {
    const hostile = view('x](javascript:alert(1))*_evil_.example', 'Suspicious', {
      links: [
        { module: 'M', title: 'bad', url: 'javascript:alert(1)' },
        { module: 'Talos', title: 'Search', url: 'https://talos.example/?q=evil' },
      ],
    });
    const texts: string[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) return n.forEach(walk);
      if (n && typeof n === 'object') for (const [k, v] of Object.entries(n)) k === 'text' ? texts.push(String(v)) : walk(v);
    };
    walk(renderInvestigation(report([hostile])).card);
    const all = texts.join('\n');
    expect(all).not.toContain('bad (M)'); // the javascript: link is not rendered at all
    expect(all).not.toMatch(/[^\\]\]\(javascript:/); // the value cannot close a link and open one
    expect(all).toContain('\\*\\_evil\\_');
    expect(all).toContain('[Search (Talos)](https://talos.example/?q=evil)');
  });

  it('action buttons carry our offer id and the thread, never XDR ids; the confirmation card has Confirm and Cancel', () => {
    const v = view('evil.example', 'Malicious', { actions: [{ offerId: 'offer-1', title: 'Block this domain', module: 'Umbrella' }] });
    const card = renderInvestigation(report([v]), { thread: 'msg-1' }).card;
    expect(submits(card)).toEqual([{ action: 'xdr_action', offer: 'offer-1', thread: 'msg-1' }]);
    expect(parseWithAdaptiveCards(card).problems).toEqual([]);
    const confirm = renderActionConfirmation({ title: 'Block this domain', module: 'Umbrella', observable: { type: 'domain', value: 'evil.example' } }, 'c-1', 10, 'msg-1');
    expect(submits(confirm.card)).toEqual([
      { action: 'xdr_action_confirm', confirmation: 'c-1', thread: 'msg-1' },
      { action: 'xdr_action_cancel', confirmation: 'c-1', thread: 'msg-1' },
    ]);
  });

  it('names the sighted targets and their open incident', () => {
    const v = view('evil.example', 'Malicious', { sightedOn: ['hostname:h1'] });
    const out = renderInvestigation(
      report([v], { targets: [{ key: 'hostname:h1', label: 'H1', type: 'endpoint', modules: ['Umbrella'], actions: [], incident: { id: 'i1', count: 4, url: 'https://xdr.example/i1' } }] }),
    );
    expect(out.markdown).toContain('sighted on 1 target in our environment: **H1**');
    expect(JSON.stringify(out.card)).toContain('(4 sightings)');
  });

  it(`never holds more than ${MAX_CARD_BUTTONS} buttons: a sighted host's action first, then the worst observables', and says what was left out`, () => {
    const views = Array.from({ length: 8 }, (_, i) =>
      view(`bad${i}.example`, 'Malicious', { actions: [{ offerId: `block-${i}`, title: 'Block this domain', module: 'Umbrella' }], sightedOn: i === 0 ? ['hostname:h1'] : [] }),
    );
    const card = renderInvestigation(
      report(views, { targets: [{ key: 'hostname:h1', label: 'H1', type: 'endpoint', modules: ['Secure Endpoint'], actions: [{ offerId: 'iso-h1', title: 'Isolate host', module: 'Secure Endpoint' }] }] }),
    ).card;
    const offers = submits(card).map((d) => d.offer);
    expect(offers).toHaveLength(MAX_CARD_BUTTONS);
    expect(offers).toContain('iso-h1');
    expect(offers).toEqual(expect.arrayContaining(['block-0', 'block-1', 'block-2', 'block-3']));
    expect(JSON.stringify(card)).toContain('XDR offers 4 more response actions than a card can hold');
  });
});
