import { describe, expect, it } from 'vitest';
import { applySighting } from '../../../src/domain/correlation/correlator.js';
import { DESCRIPTION_LIMIT, incidentTitle, incidentUrl, renderDescription } from '../../../src/domain/correlation/describe.js';
import { emptyCorrelationState } from '../../../src/domain/correlation/types.js';
import { sighting } from './helpers.js';

const opts = { rungs: [], rejectedIsClosed: true, dryRun: false, newId: () => 'inc-1' };
const now = new Date('2022-03-01T12:00:00Z');

describe('renderDescription', () => {
  it('renders a new incident exactly in the seed format', () => {
    const state = emptyCorrelationState();
    const { incident } = applySighting(
      state,
      { ...sighting('DESKTOP-AU3IP5K', { observedAt: '2022-03-01T10:00:00.123Z', seq: 1 }), ioc: { type: 'domain', value: 'evil.example' } },
      now,
      opts,
    );
    expect(renderDescription(incident)).toBe(
      '## Initial Detected Security Event:\n\n' +
        'On **2022-03-01T10:00:00Z**, a target **desktop-au3ip5k** of type [hostname] had the first security event due to IoC **evil.example** of type [domain].\n\n' +
        '## Current Amount of Security Events for Target: `1`\n\n' +
        '## Subsequent Security Events:\n\n',
    );
    expect(incidentTitle(incident.targetValue)).toBe('Correlated incident for: desktop-au3ip5k [by Sightline]');
  });

  it('adds one bullet per later event with the count', () => {
    const state = emptyCorrelationState();
    applySighting(state, sighting('h', { seq: 1, observedAt: '2022-03-01T10:00:00Z' }), now, opts);
    const { incident } = applySighting(state, sighting('h', { seq: 2, observedAt: '2022-03-01T11:00:00Z', ioc: 'x.example' }), now, opts);
    const text = renderDescription(incident);
    expect(text).toContain('## Current Amount of Security Events for Target: `2`');
    expect(text).toContain('* On **2022-03-01T11:00:00Z**, target **h** had another security event due to IoC **x.example** of type [domain].');
  });

  it('stays within the CTIM 5000-character limit after 1000 sightings with long URLs, saying how many are not shown', () => {
    const state = emptyCorrelationState();
    let incident = applySighting(state, sighting('h', { seq: 1 }), now, opts).incident;
    for (let i = 2; i <= 1000; i++) {
      const s = { ...sighting('h', { seq: i }), ioc: { type: 'url', value: `https://evil.example/${'a'.repeat(400)}/${i}` } };
      incident = applySighting(state, s, now, opts).incident;
    }
    const text = renderDescription(incident);
    expect(text.length).toBeLessThanOrEqual(DESCRIPTION_LIMIT);
    expect(text).toContain('`1000`');
    const shown = text.split('\n').filter((l) => l.startsWith('* On ')).length;
    expect(shown).toBeGreaterThan(0);
    expect(text).toContain(`* … and ${999 - shown} earlier events`);
  });

  it('escapes markdown in values so a target cannot break the bold or the count', () => {
    const state = emptyCorrelationState();
    const { incident } = applySighting(state, { ...sighting('h', { seq: 1 }), ioc: { type: 'url', value: 'http://x/**`1`' } }, now, opts);
    expect(renderDescription(incident)).toContain('**http://x/\\*\\*\\`1\\`**');
  });
});

describe('incidentUrl', () => {
  it('fills {shortId}, {uuid} and {id}', () => {
    const id = 'https://private.intel.amp.cisco.com:443/ctia/incident/incident-2230b97f';
    expect(incidentUrl('https://visibility.amp.cisco.com/incidents?q=id:{shortId}#summary', id)).toBe(
      'https://visibility.amp.cisco.com/incidents?q=id:incident-2230b97f#summary',
    );
    expect(incidentUrl('https://xdr/incidents/{uuid}', id)).toBe('https://xdr/incidents/2230b97f');
  });
});
