import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/load.js';
import { UpstreamError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { SmtpEmulator } from '../../../src/emulators/smtp/server.js';
import { EmailChannel } from '../../../src/notify/email/channel.js';
import type { Notification } from '../../../src/notify/notification.js';
import { hunt, incident, outcome, quotedThreat, target } from '../fixtures.js';

const q = quotedThreat();
const targets = Array.from({ length: 12 }, (_, i) => target(i, q.observables.slice(i, i + 5)));
const found: Notification = { kind: 'threat_targets', hunt, threat: outcome(q.name, q.description, targets) };

function emailConfig(port: number, extra: Partial<Config['email']> = {}): Config['email'] {
  return { enabled: true, host: '127.0.0.1', port, secure: false, from: 'sightline@localhost', to: ['soc@example.com', 'lead@example.com'], ...extra };
}

describe('EmailChannel over real SMTP', () => {
  let smtp: SmtpEmulator;
  let port: number;
  let channel: EmailChannel;

  beforeEach(async () => {
    smtp = new SmtpEmulator();
    ({ port } = await smtp.start());
    channel = new EmailChannel({ config: emailConfig(port), logger: silentLogger, timeoutMs: 5000 });
  });
  afterEach(async () => {
    channel.close();
    await smtp.stop();
  });

  it('delivers "Found targets" to every recipient with every target in the body', async () => {
    await channel.deliver(found);
    const mail = await smtp.waitFor((m) => m.subject === `Found targets - ${q.name}`);
    expect(mail.from).toBe('sightline@localhost');
    expect(mail.to).toEqual(['soc@example.com', 'lead@example.com']);
    for (const t of targets) {
      expect(mail.text).toContain(t.identifiers[0]!.value);
      expect(mail.html).toContain(t.identifiers[0]!.value);
      for (const o of t.observables) expect(mail.text).toContain(o.value);
    }
    expect(mail.text).toContain('https://securex.us.security.cisco.com/investigate?casebook=7a1f0c52');
  });

  it('logs in when a user is configured', async () => {
    const withAuth = new EmailChannel({ config: emailConfig(port, { user: 'sightline', password: 'not-a-real-secret' }), logger: silentLogger, timeoutMs: 5000 });
    await withAuth.deliver({ kind: 'incident_opened', incident });
    expect((await smtp.waitFor()).subject).toBe('New correlated incident for target: heimdallr');
    withAuth.close();
  });

  it('rejects with a retryable UpstreamError when the server answers 451', async () => {
    smtp.failNext(1);
    const err = await channel.deliver(found).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).retryable).toBe(true);
    expect((err as UpstreamError).userMessage).toContain('refused the e-mail (451)');
    await channel.deliver(found);
    expect(smtp.messages).toHaveLength(1);
  });

  it('rejects with a permanent error on 550', async () => {
    smtp.failNext(1, 550);
    const err = (await channel.deliver(found).catch((e: unknown) => e)) as UpstreamError;
    expect(err.retryable).toBe(false);
    expect(err.userMessage).toContain('check EMAIL_FROM, EMAIL_TO');
  });

  it('accepts the default kinds only, and nothing when e-mail is disabled', () => {
    expect(channel.accepts(found)).toBe(true);
    expect(channel.accepts({ kind: 'incident_opened', incident })).toBe(true);
    expect(channel.accepts({ kind: 'incident_updated', incident, newSightings: 1, crossed: [] })).toBe(false);
    const disabled = new EmailChannel({ config: emailConfig(port, { enabled: false }), logger: silentLogger });
    expect(disabled.accepts(found)).toBe(false);
    const custom = new EmailChannel({ config: emailConfig(port), logger: silentLogger, kinds: ['incident_updated'] });
    expect(custom.accepts({ kind: 'incident_updated', incident, newSightings: 1, crossed: [] })).toBe(true);
    expect(custom.accepts(found)).toBe(false);
  });
});

describe('EmailChannel without a server', () => {
  it('rejects with "could not reach" when nothing listens', async () => {
    // Take a free port, then close it so the connection is refused.
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const channel = new EmailChannel({ config: emailConfig(closedPort), logger: silentLogger, timeoutMs: 2000 });
    const err = (await channel.deliver(found).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.code).toBe('upstream_unreachable');
    expect(err.userMessage).toContain('check SMTP_HOST, SMTP_PORT');
  });
});
