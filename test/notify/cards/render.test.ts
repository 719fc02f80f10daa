import { describe, expect, it } from 'vitest';
import { renderForWebex, type WebexRendering } from '../../../src/notify/cards/index.js';
import { byteLength, MAX_CARD_BYTES, MAX_TEXT_BYTES } from '../../../src/notify/cards/limits.js';
import type { Notification } from '../../../src/notify/notification.js';
import { hunt, incident, loadRoundup, manyObservables, observablesOf, outcome, quotedThreat, summaries, target } from '../fixtures.js';
import { adaptiveCard13, parseWithAdaptiveCards } from './card-schema.js';

function expectValidMessage(m: WebexRendering): void {
  expect(m.markdown.length).toBeGreaterThan(0);
  expect(byteLength(m.markdown)).toBeLessThanOrEqual(MAX_TEXT_BYTES);
  if (!m.card) return;
  adaptiveCard13.parse(m.card);
  expect(byteLength(JSON.stringify(m.card))).toBeLessThanOrEqual(MAX_CARD_BYTES);
  const { problems, json } = parseWithAdaptiveCards(m.card);
  expect(problems).toEqual([]);
  // The official parser kept every element: nothing we send is unknown to it.
  expect((json.body as unknown[]).length).toBe((m.card.body as unknown[]).length);
}

const roundup = loadRoundup('2021/0723.json');
const [firstName, secondName] = roundup.names as [string, string];
const firstThreat = roundup.threats.get(firstName)!;
const threeTargets = [0, 1, 2].map((i) => target(i, observablesOf(firstThreat).slice(i, i + 4)));

const everyKind: Notification[] = [
  { kind: 'hunt_started', hunt, publicationDate: roundup.publicationDate, threats: summaries() },
  { kind: 'threat_targets', hunt, threat: outcome(firstName, firstThreat.description, threeTargets) },
  { kind: 'threat_no_targets', hunt, threat: outcome(secondName, 'desc', []) },
  {
    kind: 'hunt_finished',
    hunt,
    threats: [outcome(firstName, firstThreat.description, threeTargets), outcome(secondName, 'desc', [])],
    xdrCalls: 42,
    durationMs: 192_000,
  },
  { kind: 'not_published', week: '2021-07-30', uri: 'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/2021/0730.json', attempts: 24 },
  { kind: 'hunt_failed', hunt, error: 'XDR rejected the client id: check XDR_CLIENT_ID' },
  { kind: 'incident_opened', incident: { ...incident, count: 1, rungsFired: [] } },
  { kind: 'incident_updated', incident, newSightings: 1, crossed: ['gte 5 -> respond'] },
  { kind: 'incident_updated', incident, newSightings: 2, crossed: [], replyTo: 'Y2lzY29zcGFyazovL3VzL01FU1NBR0UvMTIz' },
  { kind: 'incident_closed', incident: { ...incident, status: 'Closed' }, by: 'analyst@example.com', reason: 'false positive' },
  { kind: 'rung_fired', incident, rung: 'gte 3 -> mention', action: 'mention', mention: ['oncall@example.com'], dryRun: false },
];

describe('renderForWebex', () => {
  it.each(everyKind.map((n) => [n.kind, n] as const))('renders %s within Webex limits as a valid Adaptive Card 1.3', (_kind, n) => {
    const messages = renderForWebex(n);
    expect(messages.length).toBeGreaterThan(0);
    messages.forEach(expectValidMessage);
  });

  it('posts one card per target, each naming its own target and the threat', () => {
    const messages = renderForWebex(everyKind[1]!);
    expect(messages).toHaveLength(3);
    messages.forEach((m, i) => {
      const host = threeTargets[i]!.identifiers[0]!.value;
      expect(JSON.stringify(m.card)).toContain(host);
      expect(m.markdown).toContain(host);
      expect(m.markdown).toContain(firstName.replace(/[.]/g, '.'));
      for (const o of threeTargets[i]!.observables) expect(m.markdown).toContain(o.value);
    });
  });

  it('links the casebook from a target card, and shows the sighting source (from outside) as defanged text', () => {
    const [m] = renderForWebex(everyKind[1]!);
    const actions = (m!.card!.actions as { type: string; url: string }[]).map((a) => a.url);
    expect(actions).toEqual(['https://securex.us.security.cisco.com/investigate?casebook=7a1f0c52']);
    expect(JSON.stringify(m!.card)).toContain('hxxps://console\\\\[.\\\\]amp\\\\[.\\\\]cisco\\\\[.\\\\]com/computers/');
    expect(m!.markdown).toContain('Sighting source: hxxps://console\\[.\\]amp');
  });

  it('says "no targets found" explicitly for a threat without targets', () => {
    const finished = renderForWebex(everyKind[3]!)[0]!;
    expect(finished.markdown).toContain(`no targets found for ${secondName}`);
    expect(JSON.stringify(finished.card)).toContain(`No targets found for ${secondName}`);
    const none = renderForWebex(everyKind[2]!)[0]!;
    expect(none.markdown).toMatch(/No targets associated with the IOCs of threat \*\*Win/);
  });

  it('threads a count update under the first incident card as markdown only', () => {
    const [reply] = renderForWebex(everyKind[8]!);
    expect(reply!.parentId).toBe('Y2lzY29zcGFyazovL3VzL01FU1NBR0UvMTIz');
    expect(reply!.card).toBeUndefined();
    expect(reply!.markdown).toContain('**5** security events');
  });

  it('gives the incident card Close and Show sightings buttons with the ids the command layer needs', () => {
    const card = renderForWebex(everyKind[6]!)[0]!.card!;
    const submits = (card.actions as { type: string; data?: unknown }[]).filter((a) => a.type === 'Action.Submit').map((a) => a.data);
    expect(submits).toEqual([
      { action: 'close_incident', incidentId: incident.id },
      { action: 'show_sightings', incidentId: incident.id },
    ]);
    expect(JSON.stringify(card)).toContain('hxxps://ictoms\\\\[.\\\\]site/ictom.zip');
  });

  it('offers no Close button on a closed incident', () => {
    const card = renderForWebex({ kind: 'incident_updated', incident: { ...incident, status: 'Closed: false positive' }, newSightings: 1, crossed: [] })[0]!.card!;
    expect(JSON.stringify(card)).not.toContain('close_incident');
  });

  it('mentions on-call people with Webex mention markup and drops malformed addresses', () => {
    const m = renderForWebex({ ...(everyKind[10] as Extract<Notification, { kind: 'rung_fired' }>), mention: ['a@example.com', 'x> <@all'] })[0]!;
    expect(m.markdown).toMatch(/^<@personEmail:a@example.com> \*\*Escalation/);
    expect(m.markdown).not.toContain('@all');
  });

  it('keeps the quotes of a real Talos description and escapes markup in markdown', () => {
    const q = quotedThreat();
    const description = `${q.description} <script>alert("x")</script> *not bold*`;
    const m = renderForWebex({ kind: 'hunt_started', hunt, threats: [{ name: q.name, description, observableCount: 10, rejectedCount: 0 }] })[0]!;
    expect(m.markdown).toContain('"');
    expect(m.markdown).not.toMatch(/(^|[^\\])<script>/);
    expect(m.markdown).toContain('\\<script\\>');
    expect(m.markdown).toContain('\\*not bold\\*');
  });
});

describe('size limits with a huge threat (5,000 observables, 300 targets)', () => {
  const observables = manyObservables(5000);
  const targets = Array.from({ length: 300 }, (_, i) => target(i, observables));
  const huge = outcome(firstName, firstThreat.description.repeat(20), targets, 5000);

  it('keeps every target message within limits, cards capped, the rest summarised with "and N more"', () => {
    const messages = renderForWebex({ kind: 'threat_targets', hunt, threat: huge });
    expect(messages).toHaveLength(26);
    messages.forEach(expectValidMessage);
    expect(messages[0]!.markdown).toMatch(/and \d+ more — \[open the casebook\]\(https:/);
    const summary = messages[25]!;
    expect(summary.markdown).toContain('275 more targets');
    expect(summary.markdown).toMatch(/and \d+ more/);
  });

  it('posts every target as its own card when the cap allows', () => {
    const messages = renderForWebex({ kind: 'threat_targets', hunt, threat: huge }, { maxTargetCards: 300 });
    expect(messages).toHaveLength(300);
    expect(new Set(messages.map((m) => m.markdown.match(/DESKTOP-[0-9A-F]+/)![0])).size).toBe(300);
  });

  it('keeps the hunt summary and start cards within limits', () => {
    const many = Array.from({ length: 80 }, (_, i) => ({ ...huge, name: `${huge.name}-${i}`, targets: i % 2 ? [] : huge.targets }));
    for (const n of [
      { kind: 'hunt_finished', hunt, threats: many, xdrCalls: 9000, durationMs: 4_000_000 },
      { kind: 'hunt_started', hunt, threats: many.map((t) => ({ name: t.name, description: t.description, observableCount: 5000, rejectedCount: 12 })) },
    ] as Notification[]) {
      const [m] = renderForWebex(n);
      expectValidMessage(m!);
      expect(m!.card).toBeDefined();
      expect(m!.markdown).toMatch(/and \d+ more/);
    }
  });
});

describe('ladder messages (issue 17 item 13)', () => {
  it('say the count the rung fired at, and show a respond outcome quoting an IOC inert', () => {
    const [m] = renderForWebex({
      kind: 'rung_fired',
      incident: { ...incident, count: 5 },
      rung: 'eq 2',
      action: 'respond',
      outcome: 'no configured action is offered for url <@all>[x](https://evil.example)',
      firedAtCount: 2,
      dryRun: false,
    });
    expect(m!.markdown).toContain('(at 2 security events; 5 now)');
    expect(m!.markdown).not.toContain('(5 security events)');
    expect(m!.markdown).toContain('- Action: **respond**');
    expect(m!.markdown).not.toMatch(/<\s*@/);
    expect(m!.markdown).not.toContain('](https://evil');
  });
});
