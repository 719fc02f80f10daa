import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, StoreError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { stateFolderError } from '../../src/store/writable.js';
import { explainListenError } from '../../src/transport/http/listen-errors.js';
import { startHttpServer } from '../../src/transport/http/server.js';

const minimal = { XDR_CLIENT_ID: 'client-123', XDR_CLIENT_PASSWORD: 'secret-password' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config errors in one list (issue 17 item 10)', () => {
  it('lists a bad ladder, cron and time zone together with the schema problems', () => {
    const problems = problemsOf({ XDR_CLIENT_ID: 'x', CORRELATION_LADDER: 'sometimes -> panic', HUNT_CRON: 'every friday', HUNT_TIMEZONE: 'Mars/Olympus', HTTP_PORT: 'eighty' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^XDR_CLIENT_PASSWORD /),
        expect.stringMatching(/^HTTP_PORT /),
        expect.stringMatching(/^CORRELATION_LADDER rung "sometimes -> panic"/),
        expect.stringMatching(/^HUNT_CRON "every friday" is not a valid cron schedule/),
        expect.stringMatching(/^HUNT_TIMEZONE "Mars\/Olympus" is not a known time zone/),
      ]),
    );
  });

  it('refuses them also when everything else is right, so start-up exits 78 before anything starts', () => {
    expect(problemsOf({ ...minimal, HUNT_CRON: '61 * * * *' })).toEqual([expect.stringMatching(/^HUNT_CRON "61 \* \* \* \*"/)]);
    expect(problemsOf({ ...minimal, CORRELATION_LADDER: 'gte 3 -> webhook' })).toEqual([expect.stringContaining('CORRELATION_WEBHOOK_URL must be set')]);
    expect(() => loadConfig({ ...minimal, HUNT_TIMEZONE: 'Europe/Zurich', HUNT_CRON: '0 9 * * 1' })).not.toThrow();
  });

  it('names HTTP_PORT when the port is in use', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const err = await startHttpServer({ host: '127.0.0.1', port, rateLimitPerMinute: 10, logger: silentLogger, routers: [] }).then(
        async (s) => {
          await s.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems[0]).toMatch(new RegExp(`^HTTP_PORT ${port} is already in use on HTTP_HOST 127.0.0.1`));
    } finally {
      blocker.close();
    }
  });

  it('names HTTP_HOST when it does not resolve or is not this machine', () => {
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND nope.invalid'), { code: 'ENOTFOUND' });
    expect((explainListenError(notFound, 'nope.invalid', 8080) as ConfigError).problems[0]).toMatch(/^HTTP_HOST "nope.invalid" does not resolve/);
    const notHere = Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' });
    expect((explainListenError(notHere, '10.255.255.1', 8080) as ConfigError).problems[0]).toMatch(/^HTTP_HOST "10.255.255.1" is not an address of this machine/);
    const other = new Error('something else');
    expect(explainListenError(other, 'h', 1)).toBe(other);
  });

  it('names STATE_FILE when its folder cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sightline-ro-'));
    await writeFile(join(dir, 'a-file'), 'x');
    const err = await LowdbStore.open(join(dir, 'a-file', 'state.json')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]).toMatch(/^STATE_FILE .*a-file\/state\.json: part of the folder path .* is a file/);
    const rofs = stateFolderError('/ro/state.json', Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' }));
    expect((rofs as ConfigError).problems[0]).toBe('STATE_FILE /ro/state.json: the folder /ro is on a read-only file system; point STATE_FILE at a folder Sightline can write, or fix the folder');
    expect(stateFolderError('/s/x.json', Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }))).toBeInstanceOf(StoreError);
  });
});
