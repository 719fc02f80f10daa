import { describe, it } from 'vitest';
import { runOutbox } from '../../reliability/outbox.js';
import { expectChecksPass } from './expect-checks.js';

describe('reliability: outbox', () => {
  it('delivers every card once, in order, after a Webex outage and after a SIGKILL with cards queued', { timeout: 90_000 }, async () => {
    expectChecksPass(await runOutbox());
  });
});
