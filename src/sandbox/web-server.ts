import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { HttpClient } from '../clients/http.js';
import { UpstreamError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { ReceivedMail, SmtpEmulator } from '../emulators/smtp/server.js';
import { signedSightingsHeaders } from '../transport/http/sightings/auth.js';

/**
 * The sandbox web page's server: a Webex-like space (static files in ./web), the
 * two browser bundles it needs, a pass-through proxy to the Webex emulator's test
 * API (so the page has one origin and the emulator needs no CORS), the SMTP
 * emulator's mailbox, and a "send sightings" button that signs and posts the
 * seed's 7-field payload to Sightline.
 *
 *   GET  /                         the page
 *   GET  /vendor/markdown-it.mjs   markdown-it's ESM browser bundle
 *   GET  /vendor/adaptivecards.js  Microsoft's adaptivecards UMD bundle (window.AdaptiveCards)
 *   GET  /vendor/adaptivecards.css
 *   ALL  /_emulator/*              streamed to `${webexUrl}/_emulator/*` (SSE included, unbuffered)
 *   GET  /api/mail                 → { items: MailView[] } oldest first
 *   GET  /api/mail/events          SSE `event: mail`, `data: MailView`
 *   GET  /api/config               → { sightingsEnabled: boolean }
 *   POST /api/sightings            { target, ioc, iocType?, count? } → { sent, sightlineStatus, answer }
 */
export interface SandboxWebOptions {
  /** The Webex emulator's origin, e.g. `http://127.0.0.1:4010` (what `WebexEmulator.start()` returns). */
  webexUrl: string;
  smtp: SmtpEmulator;
  /** Where Sightline accepts sightings, and the HMAC secret it verifies them with. Without it the panel is off. */
  sightings?: { url: string; hmacSecret: string };
  port?: number;
  host?: string;
  logger?: Logger;
  now?: () => Date;
}

export interface SandboxWeb {
  url: string;
  stop(): Promise<void>;
}

export interface MailView {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  receivedAt: string;
}

/** The seed's module → correlator payload (seeds.md §1.9); `sighting_json` is a CTIM sighting as a string. */
export interface SandboxSighting {
  target_type: 'hostname';
  target_value: string;
  ioc_type: string;
  ioc_value: string;
  event_source: 'sandbox';
  target_observed_time: string;
  sighting_json: string;
}

export const sightingsRequestSchema = z.object({
  target: z.string().trim().min(1).max(255).regex(/^\S+$/, { error: 'a hostname has no spaces' }),
  ioc: z.string().trim().min(1).max(2048),
  iocType: z.string().trim().regex(/^[a-z0-9_]{2,32}$/, { error: 'a CTIM observable type such as url, domain, ip, sha256' }).optional(),
  count: z.number().int().min(1).max(500).default(1),
});
export type SightingsRequest = z.input<typeof sightingsRequestSchema>;

const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
const requireFromHere = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(requireFromHere.resolve(`${name}/package.json`));

/** Vendor files the page loads, by URL path → file on disk. */
export function vendorFiles(): Record<string, string> {
  const markdownIt = packageDir('markdown-it');
  const adaptiveCards = packageDir('adaptivecards');
  return {
    '/vendor/markdown-it.mjs': path.join(markdownIt, 'dist/browser/markdown-it.esm.min.mjs'),
    '/vendor/adaptivecards.js': path.join(adaptiveCards, 'dist/adaptivecards.min.js'),
    '/vendor/adaptivecards.css': path.join(adaptiveCards, 'dist/adaptivecards.css'),
  };
}

/** A best guess of the CTIM observable type of a typed-in IOC, for when the panel leaves it on "auto". */
export function guessIocType(value: string): string {
  const v = value.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^hxxps?:/i.test(v)) return 'url';
  if (/^[0-9a-f]{64}$/i.test(v)) return 'sha256';
  if (/^[0-9a-f]{40}$/i.test(v)) return 'sha1';
  if (/^[0-9a-f]{32}$/i.test(v)) return 'md5';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(v)) return 'ip';
  if (v.includes(':') && /^[0-9a-f:]+$/i.test(v)) return 'ipv6';
  if (/^[^@\s]+@[^@\s]+$/.test(v)) return 'email';
  return 'domain';
}

/**
 * `count` sightings of one IOC on one host, each with its own external id so
 * Sightline counts every one of them (they are distinct observations, not retries).
 */
export function buildSandboxSightings(input: SightingsRequest, now: Date, newId: () => string = randomUUID): SandboxSighting[] {
  const { target, ioc, iocType, count } = sightingsRequestSchema.parse(input);
  const type = iocType ?? guessIocType(ioc);
  const observedAt = now.toISOString();
  return Array.from({ length: count }, (_, i) => {
    const ctim = {
      type: 'sighting',
      schema_version: '1.1.3',
      source: 'sandbox',
      external_ids: [`sandbox-sighting-${newId()}`],
      title: 'Sandbox sighting',
      description: `Sandbox sighting ${i + 1} of ${count}: ${target} met ${ioc}`,
      observed_time: { start_time: observedAt },
      confidence: 'High',
      severity: 'Medium',
      count: 1,
      internal: true,
      sensor: 'endpoint',
      tlp: 'amber',
      timestamp: observedAt,
      targets: [{ type: 'endpoint', observed_time: { start_time: observedAt }, observables: [{ type: 'hostname', value: target }] }],
      observables: [{ type, value: ioc }],
    };
    return {
      target_type: 'hostname',
      target_value: target,
      ioc_type: type,
      ioc_value: ioc,
      event_source: 'sandbox',
      target_observed_time: observedAt,
      sighting_json: JSON.stringify(ctim),
    };
  });
}

export function mailView(m: ReceivedMail, index: number): MailView {
  return {
    id: `${m.receivedAt.getTime()}-${index}`,
    from: m.from,
    to: m.to,
    subject: m.subject,
    text: m.text,
    ...(m.html !== undefined ? { html: m.html } : {}),
    receivedAt: m.receivedAt.toISOString(),
  };
}

/**
 * Streams a request to the emulator and its answer back, chunk by chunk, so the
 * emulator's SSE stream reaches the page live. Closing either side closes the other.
 */
function emulatorProxy(webexUrl: string) {
  const base = new URL(webexUrl);
  const prefix = base.pathname.replace(/\/$/, '');
  return (req: Request, res: Response): void => {
    const upstream = httpRequest(
      { hostname: base.hostname, port: base.port, method: req.method, path: `${prefix}${req.originalUrl}`, headers: { ...req.headers, host: base.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (res.headersSent) return void res.destroy();
      res.status(502).json({ message: `The Webex emulator at ${webexUrl} could not be reached (${err.message}): start it, or check webexUrl.` });
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };
}

function mailRoutes(smtp: SmtpEmulator, closers: Set<() => void>) {
  const r = express.Router();
  r.get('/mail', (_req, res) => void res.json({ items: smtp.messages.map(mailView) }));
  r.get('/mail/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': connected\n\n');
    const onMail = (m: ReceivedMail) => res.write(`event: mail\ndata: ${JSON.stringify(mailView(m, smtp.messages.indexOf(m)))}\n\n`);
    const close = () => {
      smtp.off('message', onMail);
      closers.delete(close);
    };
    smtp.on('message', onMail);
    closers.add(close);
    req.on('close', close);
  });
  return r;
}

function sightingsRoute(opts: SandboxWebOptions) {
  const now = opts.now ?? (() => new Date());
  const client = new HttpClient({ service: 'Sightline sightings', logger: opts.logger ?? silentLogger, retry: { retries: 2 } });
  const every4xx = Array.from({ length: 100 }, (_, i) => 400 + i);
  return async (req: Request, res: Response): Promise<void> => {
    const target = opts.sightings;
    if (!target) {
      res.status(503).json({ message: 'Sending sightings is off: start the sandbox page with sightings: { url, hmacSecret } pointing at Sightline.' });
      return;
    }
    const parsed = sightingsRequestSchema.safeParse(req.body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => ({ path: i.path.join('.') || 'body', message: i.message }));
      res.status(400).json({ message: `Fix the form: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}.`, problems });
      return;
    }
    const payload = buildSandboxSightings(parsed.data, now());
    const body = JSON.stringify(payload);
    try {
      const answer = await client.send({
        method: 'POST',
        url: target.url,
        headers: { 'content-type': 'application/json', ...signedSightingsHeaders(target.hmacSecret, body, now()) },
        body,
        idempotent: false,
        acceptStatus: every4xx,
      });
      res.json({ sent: payload.length, sightlineStatus: answer.status, answer: answer.body });
    } catch (err) {
      const e = err instanceof UpstreamError ? err : new UpstreamError('Sightline sightings', 'Posting the sightings failed.', { cause: err });
      res.status(502).json({ message: `${e.userMessage} Is Sightline running at ${target.url}?`, sightlineStatus: e.status ?? null });
    }
  };
}

function jsonErrors(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const status = (err as { status?: number }).status;
  const code = status && status >= 400 && status < 500 ? status : 500;
  res.status(code).json({ message: code === 500 ? `The sandbox page server failed: ${(err as Error).message}` : (err as Error).message });
}

export async function startSandboxWeb(opts: SandboxWebOptions): Promise<SandboxWeb> {
  const closers = new Set<() => void>();
  const app = express();
  app.disable('x-powered-by');
  // Before any body parser: the proxy streams the raw request body through.
  app.use('/_emulator', emulatorProxy(opts.webexUrl));
  for (const [urlPath, file] of Object.entries(vendorFiles())) app.get(urlPath, (_req, res) => res.sendFile(file));
  app.get('/api/config', (_req, res) => void res.json({ sightingsEnabled: Boolean(opts.sightings) }));
  app.use('/api', mailRoutes(opts.smtp, closers));
  app.post('/api/sightings', express.json({ limit: '64kb' }), sightingsRoute(opts));
  app.use(express.static(WEB_DIR, { index: 'index.html', extensions: ['html'] }));
  app.use(jsonErrors);

  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    stop: async () => {
      for (const close of [...closers]) close();
      // Open SSE streams would keep close() waiting forever.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
