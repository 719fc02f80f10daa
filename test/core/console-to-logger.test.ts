import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { routeConsoleToLogger } from '../../src/core/console-to-logger.js';
import { createLogger } from '../../src/core/logger.js';

/** A pino destination that keeps every line written. */
function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  let pending = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      lines.push(...parts);
      done();
    },
  });
  return { stream, lines };
}

describe('routeConsoleToLogger', () => {
  it('turns what the Webex framework and plain console calls print into pino JSON lines, and undoes it', async () => {
    const out = capture();
    const logger = createLogger({ level: 'info', destination: out.stream });
    const originals = { log: console.log, warn: console.warn, error: console.error };
    const restore = routeConsoleToLogger(logger);
    expect(console.log).not.toBe(originals.log);
    try {
      console.log('Listening for %s events...', 'webex teams');
      console.warn('careful: %d retries left', 2);
      console.error(new Error('boom'));
      // The real framework: an invalid option makes its constructor print with console.error.
      const { default: Framework } = await import('webex-node-bot-framework');
      new Framework({ token: 'not-used', maxStartupSpaces: 'many' as unknown as number });
    } finally {
      restore();
    }
    const parsed = out.lines.map((l) => JSON.parse(l) as { level: number; component: string; msg: string });
    expect(parsed.every((p) => p.component === 'console')).toBe(true);
    expect(parsed[0]).toMatchObject({ level: 30, msg: 'Listening for webex teams events...' });
    expect(parsed[1]).toMatchObject({ level: 40, msg: 'careful: 2 retries left' });
    expect(parsed[2]!.level).toBe(50);
    expect(parsed[2]!.msg).toMatch(/^Error: boom/);
    expect(parsed.some((p) => p.level === 50 && p.msg.includes('Invalid configuration option for "maxStartupSpaces"'))).toBe(true);
    expect({ log: console.log, warn: console.warn, error: console.error }).toEqual(originals);
  });
});
