import { describe, expect, it } from 'vitest';
import { renderForWebex } from '../../src/notify/cards/index.js';
import { renderEmail } from '../../src/notify/email/render.js';
import type { Notification } from '../../src/notify/notification.js';
import { hunt, outcome, quotedThreat, target } from './fixtures.js';

/** HUNT_XDR_OUTPUT=incident|both: the threat's XDR incident is linked wherever the casebook is. */
const q = quotedThreat();
const incident = { id: 'https://private.intel.amp.cisco.com/ctia/incident/incident-1', url: 'https://xdr.us.security.cisco.com/incidents/incident-1' };
const targets = [target(0, q.observables.slice(0, 3))];

describe('hunt incident links', () => {
  it('incident only: cards link the incident and the e-mail does not claim a casebook failed', () => {
    const threat = { ...outcome(q.name, q.description, targets), casebook: undefined, incident };
    const n: Notification = { kind: 'threat_targets', hunt, threat };
    const [card] = renderForWebex(n);
    expect(card!.markdown).toContain(incident.url);
    expect(JSON.stringify(card!.card)).toContain('Open incident');
    const mail = renderEmail(n)!;
    expect(mail.text).toContain(incident.url);
    expect(mail.text).not.toMatch(/No casebook was created/);
    const finished = renderForWebex({ kind: 'hunt_finished', hunt, threats: [threat], xdrCalls: 3, durationMs: 10 });
    expect(finished.map((m) => m.markdown).join('\n')).toContain(incident.url);
  });

  it('both: casebook and incident side by side', () => {
    const threat = { ...outcome(q.name, q.description, targets), incident };
    const mail = renderEmail({ kind: 'threat_targets', hunt, threat })!;
    expect(mail.text).toContain(threat.casebook!.url);
    expect(mail.text).toContain(incident.url);
  });
});
