import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { parseMail } from './mime.js';

export interface ReceivedMail {
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients (RCPT TO), which include Bcc. */
  to: string[];
  subject: string;
  /** The decoded text/plain part (or the raw body when there is none). */
  text: string;
  html?: string;
  headers: Map<string, string>;
  raw: string;
  receivedAt: Date;
}

export interface SmtpEmulatorOptions {
  host?: string;
  port?: number;
}

/**
 * A loopback SMTP server for tests and the sandbox: accepts anything (auth
 * optional, any credentials, no STARTTLS), keeps every message, and can be
 * told to refuse the next N messages with a 451 to exercise retries.
 */
export class SmtpEmulator extends EventEmitter<{ message: [ReceivedMail] }> {
  readonly messages: ReceivedMail[] = [];
  private server: SMTPServer | undefined;
  private rejectNext = 0;
  private rejectCode = 451;

  constructor(private readonly opts: SmtpEmulatorOptions = {}) {
    super();
  }

  async start(): Promise<{ url: string; host: string; port: number }> {
    const server = new SMTPServer({
      authOptional: true,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (auth, _session, cb) => cb(null, { user: auth.username ?? 'anonymous' }),
      onData: (stream, session, cb) => this.receive(stream, session, cb),
    });
    server.on('error', () => {
      // Client-side protocol errors are reported to that client; the emulator keeps serving.
    });
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.opts.port ?? 0, host, () => resolve());
    });
    this.server = server;
    const { port } = server.server.address() as AddressInfo;
    return { url: `smtp://${host}:${port}`, host, port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `count` messages are refused with `code` (default 451, "try again later"). */
  failNext(count: number, code = 451): void {
    this.rejectNext = count;
    this.rejectCode = code;
  }

  clear(): void {
    this.messages.length = 0;
  }

  /** Resolves with the first message (already received or arriving later) that matches. */
  waitFor(predicate: (m: ReceivedMail) => boolean = () => true, timeoutMs = 5000): Promise<ReceivedMail> {
    const found = this.messages.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onMessage = (m: ReceivedMail) => {
        if (!predicate(m)) return;
        clearTimeout(timer);
        this.off('message', onMessage);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.off('message', onMessage);
        const seen = this.messages.map((m) => m.subject).join(' | ') || 'none';
        reject(new Error(`No matching e-mail within ${timeoutMs} ms; received subjects: ${seen}`));
      }, timeoutMs);
      this.on('message', onMessage);
    });
  }

  private receive(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (this.rejectNext > 0) {
        this.rejectNext--;
        const err = Object.assign(new Error('Temporary failure injected by the SMTP emulator, try again later'), { responseCode: this.rejectCode });
        cb(err);
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      const parsed = parseMail(raw);
      const mail: ReceivedMail = {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : parsed.from,
        to: session.envelope.rcptTo.map((r) => r.address),
        subject: parsed.subject,
        text: parsed.text || raw,
        headers: parsed.headers,
        raw,
        receivedAt: new Date(),
      };
      if (parsed.html !== undefined) mail.html = parsed.html;
      this.messages.push(mail);
      cb(null);
      this.emit('message', mail);
    });
  }
}
