import { describe, expect, it } from 'vitest';
import { renderEmail } from '../../../src/notify/email/render.js';
import type { Notification } from '../../../src/notify/notification.js';
import { hunt, incident, manyObservables, outcome, quotedThreat, summaries, target } from '../fixtures.js';

const q = quotedThreat();
const targets = [0, 1, 2, 3].map((i) => target(i, q.observables.slice(i * 3, i * 3 + 3)));

describe('renderEmail subjects (the seed\'s, kept)', () => {
  it.each([
    [{ kind: 'hunt_started', hunt, threats: summaries() }, 'Talos Roundup Investigation started'],
    [{ kind: 'threat_targets', hunt, threat: outcome(q.name, q.description, targets) }, `Found targets - ${q.name}`],
    [{ kind: 'threat_no_targets', hunt, threat: outcome(q.name, q.description, []) }, `No Targets found - Threat ${q.name}`],
    [{ kind: 'hunt_finished', hunt, threats: [outcome(q.name, q.description, targets)], xdrCalls: 12, durationMs: 61_000 }, 'Talos Roundup Investigation finished - week of 2021-07-23'],
    [{ kind: 'not_published', week: '2021-07-30', uri: 'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/2021/0730.json', attempts: 24 }, 'Talos Roundup not published'],
    [{ kind: 'hunt_failed', week: '2021-07-30', error: 'boom' }, 'Talos Roundup Investigation failed - 2021-07-30'],
    [{ kind: 'incident_opened', incident }, 'New correlated incident for target: heimdallr'],
    [{ kind: 'incident_updated', incident, newSightings: 1, crossed: [] }, 'Incident updated for target: heimdallr'],
    [{ kind: 'incident_closed', incident, by: 'analyst@example.com' }, 'Incident closed for target: heimdallr'],
    [{ kind: 'rung_fired', incident, rung: 'gte 3 -> mention', action: 'mention', dryRun: true }, '[dry run] Escalation gte 3 -> mention for target: heimdallr'],
  ] as [Notification, string][])('%#: %s', (n, subject) => {
    const mail = renderEmail(n)!;
    expect(mail.subject).toBe(subject);
    expect(mail.text.length).toBeGreaterThan(20);
    expect(mail.html).toMatch(/^<!doctype html>/);
  });
});

describe('renderEmail bodies', () => {
  it('lists every target with identifiers, modules, observables, times and the casebook link', () => {
    const mail = renderEmail({ kind: 'threat_targets', hunt, threat: outcome(q.name, q.description, targets) })!;
    for (const t of targets) {
      for (const id of t.identifiers) expect(mail.text).toContain(id.value);
      for (const o of t.observables) expect(mail.text).toContain(o.value);
      expect(mail.html).toContain(t.identifiers[0]!.value);
    }
    expect(mail.text).toContain('Secure Endpoint, Umbrella');
    expect(mail.text).toContain('2021-07-20T08:12:03.000Z');
    expect(mail.html).toContain('<a href="https://securex.us.security.cisco.com/investigate?casebook=7a1f0c52">');
  });

  it('lets no two values side by side make a mention token in the text body (a target type `<` and its value `@`)', () => {
    const hostile = { ...targets[0]!, type: 'endpoint', identifiers: [{ type: '<', value: '@all>' }] };
    const mail = renderEmail({ kind: 'threat_targets', hunt, threat: outcome(q.name, q.description, [hostile]) })!;
    expect(mail.text).not.toMatch(/<\s*@/);
    expect(mail.text).toContain('< ＠all>');
  });

  it('escapes quotes and markup from a threat description in HTML, keeps them as typed in text', () => {
    const description = `${q.description} <script>alert("pwned")</script><img src=x onerror=alert(1)>`;
    const mail = renderEmail({ kind: 'hunt_started', hunt, threats: [{ name: q.name, description, observableCount: 5, rejectedCount: 0 }] })!;
    expect(mail.html).not.toMatch(/<script|<img/);
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
    expect(mail.html).toContain('&quot;explorer.exe&quot;');
    expect(mail.text).toContain(description);
  });

  it('never writes a javascript: link', () => {
    const evil = { ...targets[0]!, sourceUris: ['javascript:alert(1)'] };
    const mail = renderEmail({ kind: 'threat_targets', hunt, threat: outcome(q.name, q.description, [evil]) })!;
    expect(mail.html).not.toContain('href="javascript');
  });

  it('keeps the subject on one line', () => {
    const mail = renderEmail({ kind: 'threat_no_targets', hunt, threat: outcome('Win.Evil\r\nBcc: victim@example.com', 'x', []) })!;
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });

  it('summarises a hunt per threat, stating "no targets found" and linking casebooks', () => {
    const mail = renderEmail({
      kind: 'hunt_finished',
      hunt,
      threats: [outcome(q.name, q.description, targets), outcome('Win.Trojan.Nanocore-9879794-1', 'RAT', [])],
      xdrCalls: 12,
      durationMs: 61_000,
    })!;
    expect(mail.text).toContain('no targets found for Win.Trojan.Nanocore-9879794-1');
    expect(mail.html).toContain('<th style="border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top">Clean dropped</th>');
    expect(mail.text).toContain('1m 1s');
  });

  it('tells what to do when the roundup is not published', () => {
    const uri = 'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/2021/0730.json';
    const mail = renderEmail({ kind: 'not_published', week: '2021-07-30', uri, attempts: 24 })!;
    expect(mail.text).toContain('tried 24 times');
    expect(mail.text).toContain(uri);
    expect(mail.text).toContain('"hunt blog <uri>"');
    expect(mail.text).toContain('"hunt now"');
    expect(mail.html).toContain('&quot;hunt blog &lt;uri&gt;&quot;');
  });

  it('lists all 300 targets of a huge threat, cutting each observable list with "and N more"', () => {
    const observables = manyObservables(5000);
    const all = Array.from({ length: 300 }, (_, i) => target(i, observables));
    const mail = renderEmail({ kind: 'threat_targets', hunt, threat: outcome(q.name, q.description, all, 5000) })!;
    for (const t of all) expect(mail.text).toContain(t.identifiers[0]!.value);
    expect(mail.text).toContain('and 4900 more (all of them are in the casebook)');
  });
});
