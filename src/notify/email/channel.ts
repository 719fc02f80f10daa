import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../../config/load.js';
import { UpstreamError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Channel, Notification, NotificationKind } from '../notification.js';
import { renderEmail } from './render.js';

export const DEFAULT_EMAIL_KINDS: readonly NotificationKind[] = [
  'hunt_started',
  'threat_targets',
  'threat_no_targets',
  'hunt_finished',
  'not_published',
  'talos_nothing_new',
  'hunt_failed',
  'incident_opened',
  'rung_fired',
  'incident_digest',
];

export interface EmailChannelOptions {
  config: Config['email'];
  logger: Logger;
  /** Which notification kinds are e-mailed; default DEFAULT_EMAIL_KINDS. */
  kinds?: readonly NotificationKind[];
  /** Socket timeouts (ms); short in tests, generous by default. */
  timeoutMs?: number;
}

/** Sends notifications as e-mail over SMTP. `deliver` throws on any SMTP failure so the outbox retries. */
export class EmailChannel implements Channel {
  readonly name = 'email';
  private readonly kinds: ReadonlySet<NotificationKind>;
  private readonly transport: Transporter;

  constructor(private readonly opts: EmailChannelOptions) {
    const { config } = opts;
    this.kinds = new Set(opts.kinds ?? DEFAULT_EMAIL_KINDS);
    const timeout = opts.timeoutMs ?? 30_000;
    this.transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      auth: config.user ? { user: config.user, pass: config.password ?? '' } : undefined,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  }

  accepts(n: Notification): boolean {
    const { config } = this.opts;
    return config.enabled && config.host !== undefined && config.to.length > 0 && this.kinds.has(n.kind);
  }

  async deliver(n: Notification): Promise<void> {
    const email = renderEmail(n);
    if (!email) return;
    const { from, to } = this.opts.config;
    let info: { messageId?: string; accepted?: unknown[]; rejected?: unknown[] };
    try {
      info = await this.transport.sendMail({ from, to, subject: email.subject, text: email.text, html: email.html });
    } catch (err) {
      throw smtpError(err, this.opts.config);
    }
    if ((info.accepted ?? []).length === 0) {
      throw new UpstreamError('smtp', `The SMTP server accepted none of the recipients ${to.join(', ')}: check EMAIL_TO.`, {
        status: 422,
      });
    }
    if ((info.rejected ?? []).length > 0) {
      this.opts.logger.warn({ kind: n.kind, rejected: info.rejected }, 'The SMTP server refused some recipients; check EMAIL_TO');
    }
    this.opts.logger.debug({ kind: n.kind, messageId: info.messageId, subject: email.subject }, 'e-mail sent');
  }

  /** Closes pooled connections (none by default); for a clean shutdown. */
  close(): void {
    this.transport.close();
  }
}

/**
 * SMTP reply codes are the reverse of HTTP ones: 4xx is "try again later",
 * 5xx is permanent. They are mapped onto HTTP-like statuses so
 * UpstreamError.retryable answers correctly (503 retryable, 422 not).
 */
function smtpError(err: unknown, config: Config['email']): UpstreamError {
  const e = err as { responseCode?: number; response?: string; code?: string; message?: string };
  const where = `${config.host ?? '(no host)'}:${config.port}`;
  if (e.code === 'EAUTH') {
    return new UpstreamError('smtp', `The SMTP server ${where} refused the login: check SMTP_USER and SMTP_PASSWORD.`, { status: 401, cause: err, detail: e.message });
  }
  if (typeof e.responseCode === 'number') {
    const permanent = e.responseCode >= 500;
    return new UpstreamError('smtp', `The SMTP server ${where} refused the e-mail (${e.responseCode}): ${permanent ? 'check EMAIL_FROM, EMAIL_TO and SMTP_USER' : 'it will be retried'}.`, {
      status: permanent ? 422 : 503,
      cause: err,
      detail: e.response ?? e.message,
    });
  }
  return new UpstreamError('smtp', `Could not reach the SMTP server ${where}: check SMTP_HOST, SMTP_PORT and SMTP_SECURE.`, {
    cause: err,
    detail: e.message,
  });
}
