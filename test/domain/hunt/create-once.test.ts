import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { UpstreamError } from '../../../src/core/errors.js';
import { CREATE_ATTEMPTS, createOnce } from '../../../src/domain/hunt/create-once.js';

const unavailable = () => new UpstreamError('Cisco XDR', 'XDR answered 503.', { status: 503 });
const refused = () => new UpstreamError('Cisco XDR', 'XDR answered 400.', { status: 400 });

describe('createOnce: filing one XDR entity from a hunt', () => {
  it('tries again after a 5xx until the lookup-then-create goes through, waiting longer each time', async () => {
    const clock = new FakeClock('2026-12-04T09:00:00Z');
    let calls = 0;
    const id = await createOnce(clock, async () => {
      if (++calls < CREATE_ATTEMPTS) throw unavailable();
      return 'casebook-1';
    });
    expect(id).toBe('casebook-1');
    expect(calls).toBe(CREATE_ATTEMPTS);
    // 0.5 + 1 + 2 + 4 + 8 s of backoff before the sixth try.
    expect(clock.now().toISOString()).toBe('2026-12-04T09:00:15.500Z');
  });

  /** Counts the tries of a step that always fails with `error`. */
  async function alwaysFailing(error: () => Error): Promise<{ calls: number; failure: unknown }> {
    let calls = 0;
    const failure = await createOnce(new FakeClock('2026-12-04T09:00:00Z'), async () => {
      calls++;
      throw error();
    }).catch((err: unknown) => err);
    return { calls, failure };
  }

  it('gives up with the last error once the attempts are spent', async () => {
    const { calls, failure } = await alwaysFailing(unavailable);
    expect(failure).toMatchObject({ message: 'XDR answered 503.' });
    expect(calls).toBe(CREATE_ATTEMPTS);
  });

  it('does not retry what XDR refused for good', async () => {
    const { calls, failure } = await alwaysFailing(refused);
    expect(failure).toMatchObject({ message: 'XDR answered 400.' });
    expect(calls).toBe(1);
  });
});
