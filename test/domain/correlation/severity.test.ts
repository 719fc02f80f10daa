import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { DEFAULT_INCIDENT_SEVERITY } from '../../../src/config/schema.js';
import { globalScore, parseSeverityRule, severityFor, ttpScore } from '../../../src/domain/correlation/severity.js';
import { isClosedStatus, statusFamily } from '../../../src/domain/correlation/status.js';
import { INCIDENT_STATUSES } from '../../../src/emulators/xdr/ctia-validate.js';

describe('XDR_INCIDENT_SEVERITY', () => {
  const rule = parseSeverityRule(DEFAULT_INCIDENT_SEVERITY);

  it('rises with the sighting count and the ladder rungs reached (highest match wins)', () => {
    expect(severityFor(rule, 1, [])).toBe('Low');
    expect(severityFor(rule, 2, ['notify'])).toBe('Medium');
    expect(severityFor(rule, 3, [])).toBe('High');
    // A ladder configured to respond early makes the incident Critical at that rung, whatever the count.
    expect(severityFor(rule, 2, ['notify', 'respond'])).toBe('Critical');
    expect(severityFor(parseSeverityRule('mention -> High; 1 -> Info'), 9, [])).toBe('Info');
    expect(severityFor(parseSeverityRule(''), 9, ['respond'])).toBe('Low');
  });

  it('refuses a malformed rule naming the variable and every bad entry', () => {
    const err = (() => {
      try {
        parseSeverityRule('0 -> Low; 3 -> Severe; page -> High; 2 Medium');
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message.match(/XDR_INCIDENT_SEVERITY/g)).toHaveLength(4);
  });

  it('scores: ttp from the severity, global adds 2 per extra sighting up to 100', () => {
    expect(['Info', 'Low', 'Medium', 'High', 'Critical'].map((s) => ttpScore(s as never))).toEqual([10, 30, 50, 70, 90]);
    expect(globalScore('Medium', 1)).toBe(50);
    expect(globalScore('Medium', 4)).toBe(56);
    expect(globalScore('Critical', 40)).toBe(100);
  });
});

describe('XDR status vocabulary', () => {
  it('puts every CTIM/XDR status in its family, and only Closed… (and Rejected when configured) closes', () => {
    const families = Object.fromEntries(INCIDENT_STATUSES.map((s) => [s, statusFamily(s)]));
    expect(families).toMatchObject({
      New: 'new',
      'New: Presented': 'new',
      'Open: Contained': 'open',
      Stalled: 'open',
      'Incident Reported': 'open',
      Hold: 'hold',
      'Hold: Legal': 'hold',
      'Closed: Merged': 'closed',
      Rejected: 'rejected',
    });
    for (const s of INCIDENT_STATUSES) {
      expect(isClosedStatus(s, { rejectedIsClosed: true }), s).toBe(families[s] === 'closed' || families[s] === 'rejected');
    }
  });
});
