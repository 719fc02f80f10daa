import { describe, it } from 'vitest';
import { runWebsocket } from '../../reliability/websocket.js';
import { expectChecksPass } from './expect-checks.js';

describe('reliability: Webex websocket (small)', () => {
  it('survives one close of every kind, answering a command after each, and an outage', { timeout: 240_000 }, async () => {
    expectChecksPass(await runWebsocket({ rounds: 1, outageSeconds: 2 }));
  });
});
