import { describe, expect, it } from 'vitest';
import { isClosedStatus } from '../../../src/domain/correlation/status.js';

describe('isClosedStatus', () => {
  const on = { rejectedIsClosed: true };
  it('treats Closed and every XDR "Closed: …" sub-status as closed (the seed only knew "Closed")', () => {
    for (const s of ['Closed', 'Closed: False Positive', 'Closed: Confirmed Threat', 'Closed: Merged']) expect(isClosedStatus(s, on)).toBe(true);
  });
  it('treats open, new and hold statuses as open', () => {
    for (const s of ['New', 'Open', 'Open: Investigating', 'Hold: Legal', 'Closed:', 'Closedish', 'closed', '']) expect(isClosedStatus(s, on)).toBe(false);
    expect(isClosedStatus(undefined, on)).toBe(false);
  });
  it('makes Rejected closed only when configured', () => {
    expect(isClosedStatus('Rejected', on)).toBe(true);
    expect(isClosedStatus('Rejected', { rejectedIsClosed: false })).toBe(false);
  });
});
