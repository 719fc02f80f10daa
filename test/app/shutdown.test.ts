import { describe, expect, it } from 'vitest';
import type { Capability } from '../../src/app/capability.js';
import { boundedShutdown, STATE_WRITE_RESERVE_MS } from '../../src/app/shutdown.js';
import { createLogger } from '../../src/core/logger.js';

/** A capability that records its halt and its stop (as one timed step) into `events`. */
function recorded(name: string, events: string[], work: () => Promise<unknown> = async () => undefined): Capability {
  return {
    name,
    halt: () => events.push(`halt ${name}`),
    stop: async (step) => {
      events.push(`stop ${name}`);
      await step(name, work);
    },
  };
}

function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { log, lines };
}

describe('boundedShutdown', () => {
  it('halts every capability first, then stops them in reverse start order, then writes the state, logging each step', async () => {
    const events: string[] = [];
    const { log, lines } = capturingLog();
    const stop = boundedShutdown({
      capabilities: [recorded('outbox', events), recorded('engine', events), { name: 'quiet' }, recorded('http', events)],
      closeState: async () => {
        events.push('state');
      },
      log,
    });
    await stop();
    expect(events).toEqual(['halt http', 'halt engine', 'halt outbox', 'stop http', 'stop engine', 'stop outbox', 'state']);
    const stopped = lines.find((l) => l.msg === 'Sightline stopped');
    expect(Object.keys(stopped?.steps as object)).toEqual(['http', 'engine', 'outbox', 'state']);
    expect(lines.some((l) => String(l.msg).includes('did not finish in time'))).toBe(false);
  });

  it('gives up on a drain that outlives the deadline, says so, and still writes the state', async () => {
    const events: string[] = [];
    const { log, lines } = capturingLog();
    const never = new Promise<never>(() => undefined);
    const stop = boundedShutdown({
      capabilities: [recorded('outbox', events), recorded('stuck', events, () => never)],
      closeState: async () => {
        events.push('state');
      },
      log,
    });
    // The whole budget but the state's reserve, and a little: the drain gets a few milliseconds.
    await stop(STATE_WRITE_RESERVE_MS + 20);
    expect(events).toEqual(['halt stuck', 'halt outbox', 'stop stuck', 'state']);
    const warned = lines.find((l) => String(l.msg).includes('did not finish in time'));
    expect(warned?.steps).toEqual({});
    expect(Object.keys(lines.find((l) => l.msg === 'Sightline stopped')?.steps as object)).toEqual(['state']);
  });

  it('is one shutdown however often it is asked for', async () => {
    const events: string[] = [];
    const { log } = capturingLog();
    const stop = boundedShutdown({ capabilities: [recorded('only', events)], closeState: async () => void events.push('state'), log });
    const first = stop();
    expect(stop()).toBe(first);
    await first;
    await stop();
    expect(events).toEqual(['halt only', 'stop only', 'state']);
  });
});
