import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { SANDBOX_SIGHTINGS_SECRET, SANDBOX_WEBHOOK_SECRET } from '../src/sandbox/world.js';
import { signSightingsBody } from '../src/transport/http/sightings/auth.js';
import { capturingLogger, startInProcess, type InProcessBot } from './in-process.js';
import { PROJECT_ROOT, ReportBuilder, moduleSighting, postSightings, sleep, waitFor, type SuiteReport } from './support.js';

/**
 * Suite 5 — security: signatures and replays on both webhooks, the `hunt blog`
 * allow-list (redirects, IP literals, localhost), who may run which command,
 * secrets kept out of logs and error bodies, body-size and rate limits on every
 * endpoint, and `npm audit --omit=dev` as it ran here.
 */
export interface SecurityOptions {
  /** Run `npm audit --omit=dev` (slow, needs the registry). */
  audit: boolean;
}

const SECRETS = {
  WEBEX_TOKEN: 'reliability-webex-token-Zq81x',
  SIGHTINGS_BEARER_TOKEN: 'reliability-bearer-Jk2w9PqLm4',
};

export async function runSecurity(opts: SecurityOptions): Promise<SuiteReport> {
  const r = new ReportBuilder('5. Security');
  const logLines: string[] = [];
  const bot = await startInProcess({ SIGHTINGS_BEARER_TOKEN: SECRETS.SIGHTINGS_BEARER_TOKEN, LOG_LEVEL: 'trace' }, {}, capturingLogger(logLines, 'trace'));
  try {
    await webhooks(bot, r);
    await allowList(bot, r);
    await secretsInLogs(bot, r, logLines);
    await bodyLimits(bot, r);
  } finally {
    await bot.stop();
  }
  await permissions(r);
  await rateLimits(r);
  if (opts.audit) await npmAudit(r);
  return r.done(
    'Unsigned, wrongly signed, stale and replayed deliveries at /webex/webhook and /api/v1/sightings; `hunt blog` at metadata IPs, IP literals, localhost, file: URIs and an allowed host redirecting elsewhere (a canary server counts hits); ' +
      'commands from outside allowed rooms/domains and from non-admins; a traced (LOG_LEVEL=trace) run grepped for every configured secret; 2 MB bodies and a low rate limit at every endpoint; `npm audit --omit=dev`.',
  );
}

function webexSignature(raw: string, secret = SANDBOX_WEBHOOK_SECRET): string {
  return createHmac('sha1', secret).update(raw).digest('hex');
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

async function webhooks(bot: InProcessBot, r: ReportBuilder): Promise<void> {
  const hook = `${bot.app.http.url}/webex/webhook`;
  const delivery = (id: string, created = new Date().toISOString()) => JSON.stringify({ id: 'wh-1', name: 'sightline', resource: 'messages', event: 'created', data: { id, created, personId: 'someone' } });
  const fresh = delivery('msg-sec-1');
  const unsigned = await post(hook, fresh, {});
  const wrong = await post(hook, fresh, { 'x-spark-signature': webexSignature(fresh, 'not-the-secret') });
  const ok = await post(hook, fresh, { 'x-spark-signature': webexSignature(fresh) });
  const replay = await post(hook, fresh, { 'x-spark-signature': webexSignature(fresh) });
  const old = delivery('msg-sec-2', new Date(Date.now() - 3_600_000).toISOString());
  const stale = await post(hook, old, { 'x-spark-signature': webexSignature(old) });
  r.check('Webex webhook: unsigned → 401', unsigned.status === 401, `${unsigned.status}`);
  r.check('Webex webhook: wrong X-Spark-Signature → 401', wrong.status === 401, `${wrong.status}`);
  r.check('Webex webhook: correctly signed → 200', ok.status === 200, `${ok.status}`);
  r.check('Webex webhook: same delivery again (replay) → 401', replay.status === 401, `${replay.status}`);
  r.check('Webex webhook: event an hour old → 401', stale.status === 401, `${stale.status}`);

  const body = JSON.stringify(moduleSighting('sec-replay-1', 'sec-host', 'sec.example'));
  const before = countFor(bot, 'sec-host');
  const noSig = await postSightings(bot.app.http.url, body, { sign: false });
  const badSig = await postSightings(bot.app.http.url, body, { sign: false, headers: { 'X-Sightline-Signature': signSightingsBody('wrong-secret-0123456789', body, Math.floor(Date.now() / 1000)), 'X-Sightline-Timestamp': String(Math.floor(Date.now() / 1000)) } });
  const ts = Math.floor(Date.now() / 1000) - 600;
  const staleSig = await postSightings(bot.app.http.url, body, { sign: false, headers: { 'X-Sightline-Signature': signSightingsBody(SANDBOX_SIGHTINGS_SECRET, body, ts), 'X-Sightline-Timestamp': String(ts) } });
  const badBearer = await postSightings(bot.app.http.url, body, { sign: false, headers: { authorization: 'Bearer not-the-token-0123456789' } });
  const first = await postSightings(bot.app.http.url, body);
  const again = await postSightings(bot.app.http.url, body);
  await bot.app.intake.idle();
  await waitFor(() => countFor(bot, 'sec-host') > before, 'the sighting to be counted', 10_000).catch(() => undefined);
  await sleep(300);
  r.check('sightings: unsigned → 401', noSig.status === 401, `${noSig.status}`);
  r.check('sightings: wrong signature → 401', badSig.status === 401, `${badSig.status}`);
  r.check('sightings: timestamp 10 minutes old (replay window 5) → 401', staleSig.status === 401, `${staleSig.status}`);
  r.check('sightings: wrong bearer token → 401', badBearer.status === 401, `${badBearer.status}`);
  const dup = JSON.parse(again.body || '{}') as { duplicates?: number };
  r.check('sightings: replayed delivery id is taken as a duplicate and counted once', first.status === 202 && dup.duplicates === 1 && countFor(bot, 'sec-host') === before + 1, `second answer ${again.status} ${again.body.slice(0, 100)}; count ${countFor(bot, 'sec-host') - before}`);
}

function countFor(bot: InProcessBot, host: string): number {
  const incidents = (bot.app.store.get().correlation as { incidents?: Record<string, { targetValue: string; count: number }> } | undefined)?.incidents ?? {};
  return Object.values(incidents).filter((i) => i.targetValue === host).reduce((n, i) => n + i.count, 0);
}

async function allowList(bot: InProcessBot, r: ReportBuilder): Promise<void> {
  let canaryHits = 0;
  const canary = createServer((_req, res) => {
    canaryHits++;
    res.end('{}');
  });
  await new Promise<void>((res) => canary.listen(0, '127.0.0.1', res));
  const canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}/latest/meta-data`;
  const { world, app } = bot;
  const room = world.webex.createRoomAsPerson('Security allow-list', ['alice@example.com']);
  const alice = world.webex.people().find((p) => p.emails[0] === 'alice@example.com')!;
  const anchor = world.webex.postAsPerson('alice@example.com', room.id, 'anchor');
  const talosPort = new URL(world.talos.url).port;
  const uris = [
    'http://169.254.169.254/latest/meta-data/',
    canaryUrl,
    `http://localhost:${talosPort}/Cisco-Talos/Threat-Round-Up/master/2021/0723.json`,
    'http://[::1]/x.json',
    'http://2130706433/x.json',
    'http://0x7f.1/x.json',
    'file:///etc/passwd',
    'https://evil.example/roundup.json',
    `${world.talos.url}/redirect?to=${encodeURIComponent(canaryUrl)}`,
    `${world.talos.url}/redirect?to=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`,
  ];
  const failures: string[] = [];
  for (const uri of uris) {
    const huntsBefore = app.store.get().hunts.length;
    const n0 = world.webex.messages(room.id).length;
    await app.webex!.dispatcher.handle({ kind: 'message', messageId: anchor.id, roomId: room.id, roomType: 'group', personId: alice.id, personEmail: 'alice@example.com', text: `hunt blog ${uri}` });
    await app.hunts.idle();
    await app.outbox.drain();
    const replies = world.webex.messages(room.id).slice(n0).map((m) => m.markdown ?? m.text ?? '');
    const hunts = app.store.get().hunts.slice(huntsBefore);
    const finished = hunts.some((h) => h.status === 'finished');
    const refusedText = replies.some((t) => /allow|refus|not permitted|cannot|can't|won't|only|must be/i.test(t)) || hunts.some((h) => h.status === 'failed');
    if (finished || !refusedText) failures.push(`${uri}: ${finished ? 'a hunt FINISHED' : 'no refusal'} (${replies.join(' / ').slice(0, 160)})`);
  }
  canary.close();
  r.figure('`hunt blog` URIs outside the allow-list tried', uris.length);
  r.check('`hunt blog` refuses every URI outside the allow-list, with a reason', failures.length === 0, failures.slice(0, 3).join(' | '));
  r.check('no request reached the canary server (incl. via an allowed host redirecting to it)', canaryHits === 0, `${canaryHits} hit(s)`);
}

async function secretsInLogs(bot: InProcessBot, r: ReportBuilder, lines: string[]): Promise<void> {
  const { world, app } = bot;
  const xdrCfg = world.xdr.xdrConfig();
  // Provoke errors that carry credentials nearby: XDR refusing, Webex failing, bad bearer tokens.
  world.xdr.faults.add({ match: '/iroh/oauth2/token', status: 401, times: 3 });
  world.webex.injectFault({ pathPattern: '^/v1/messages$', method: 'POST', status: 500, count: 2 });
  await postSightings(app.http.url, JSON.stringify(moduleSighting('sec-log-1', 'log-host', 'log.example')), { sign: false, headers: { authorization: `Bearer ${SECRETS.SIGHTINGS_BEARER_TOKEN}` } });
  await postSightings(app.http.url, '{}', { sign: false, headers: { authorization: `Bearer ${SECRETS.SIGHTINGS_BEARER_TOKEN}x` } });
  await app.intake.idle();
  await app.engine.syncPending();
  await app.outbox.drain().catch(() => undefined);
  await sleep(500);
  const secrets: Record<string, string> = {
    XDR_CLIENT_PASSWORD: xdrCfg.clientPassword,
    WEBEX_TOKEN: world.webex.botToken,
    WEBEX_WEBHOOK_SECRET: SANDBOX_WEBHOOK_SECRET,
    SIGHTINGS_HMAC_SECRET: SANDBOX_SIGHTINGS_SECRET,
    SIGHTINGS_BEARER_TOKEN: SECRETS.SIGHTINGS_BEARER_TOKEN,
  };
  const text = lines.join('');
  const leaked = Object.entries(secrets).filter(([, v]) => text.includes(v)).map(([k]) => k);
  r.figure('log lines captured at LOG_LEVEL=trace', lines.length);
  r.check('no configured secret appears in the logs', leaked.length === 0, leaked.length ? `found: ${leaked.join(', ')}` : undefined);
  if (leaked.length > 0) {
    const sample = lines.find((l) => leaked.some((k) => l.includes(secrets[k]!)))!;
    r.finding(`Secret(s) ${leaked.join(', ')} written to the log in clear, e.g. ${redactedSample(sample, Object.values(secrets))}. Proposed patch: add the field path to REDACT_PATHS in src/core/logger.ts, or scrubSecrets() the message where it is built.`);
  }
}

function redactedSample(line: string, secrets: string[]): string {
  let out = line.slice(0, 300);
  for (const s of secrets) out = out.split(s).join('<SECRET>');
  return out;
}

async function bodyLimits(bot: InProcessBot, r: ReportBuilder): Promise<void> {
  const big = JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) });
  const hook = await post(`${bot.app.http.url}/webex/webhook`, big, { 'x-spark-signature': webexSignature(big) });
  const sightings = await postSightings(bot.app.http.url, big);
  const sightingsBearer = await postSightings(bot.app.http.url, big, { sign: false, headers: { authorization: `Bearer ${SECRETS.SIGHTINGS_BEARER_TOKEN}` } });
  const unknown = await post(`${bot.app.http.url}/somewhere`, big, {}).catch(() => ({ status: 0, body: '' }));
  r.check('2 MB body → 413 at /webex/webhook', hook.status === 413, `${hook.status}`);
  const jsonReason = /^\s*\{/.test(hook.body);
  r.check('the 413 from /webex/webhook is JSON with a reason (not an HTML error page)', jsonReason, hook.body.slice(0, 120));
  if (!jsonReason) {
    r.finding(
      'src/transport/webex/webhook-route.ts createWebexWebhookRouter(): express.raw() rejects an oversize body with PayloadTooLargeError and the router has no error handler, so express\'s final handler answers an HTML page and prints the stack trace to stderr (outside pino). Proposed patch: `router.use(httpErrorHandler(logger))` from src/transport/http/errors.ts, as the sightings router does.',
    );
  }
  r.check('2 MB body → 413 at /api/v1/sightings (HMAC and bearer)', sightings.status === 413 && sightingsBearer.status === 413, `${sightings.status}, ${sightingsBearer.status}`);
  r.check('2 MB body to an unknown path → 404 without reading it into memory', unknown.status === 404 || unknown.status === 0, `${unknown.status}`);
}

async function permissions(r: ReportBuilder): Promise<void> {
  const bot = await startInProcess({ WEBEX_ALLOWED_DOMAINS: 'example.com', WEBEX_ALLOWED_ROOMS: 'SOC allowed' });
  try {
    const { world, app } = bot;
    const allowed = world.webex.createRoomAsPerson('SOC allowed', ['alice@example.com']);
    const other = world.webex.createRoomAsPerson('Random room', ['alice@example.com']);
    const person = (email: string) => world.webex.people().find((p) => p.emails[0] === email);
    world.webex.postDirect('carol@example.com', 'hi');
    world.webex.postDirect('mallory@evil.example', 'hi');
    await world.webex.deliveriesIdle();
    await sleep(300);
    const ask = async (email: string, roomId: string, text: string) => {
      const p = person(email)!;
      const anchor = world.webex.postAsPerson(email, roomId, 'anchor');
      const n0 = world.webex.messages(roomId).length;
      await app.webex!.dispatcher.handle({ kind: 'message', messageId: anchor.id, roomId, roomType: 'group', personId: p.id, personEmail: email, text });
      return world.webex.messages(roomId).slice(n0).filter((m) => m.personId === world.webex.bot.id).map((m) => m.markdown ?? m.text ?? '').join(' ');
    };
    const cases: [string, string, string, RegExp, boolean][] = [
      ['admin, allowed room, `hunt status`', 'alice@example.com', allowed.id, /hunt/i, true],
      ['admin, room not on the allow-list', 'alice@example.com', other.id, /room|allow/i, false],
      ['outside domain (mallory@evil.example), allowed room', 'mallory@evil.example', allowed.id, /domain|allow|not/i, false],
      ['non-admin (carol@example.com), `hunt now`', 'carol@example.com', allowed.id, /admin/i, false],
      ['non-admin, `close host-1`', 'carol@example.com', allowed.id, /admin/i, false],
    ];
    const wrong: string[] = [];
    for (const [label, email, roomId, expect, isOk] of cases) {
      const text = label.includes('`hunt now`') ? 'hunt now' : label.includes('close') ? 'close host-1' : 'hunt status';
      const reply = await ask(email, roomId, text);
      if (!expect.test(reply)) wrong.push(`${label}: "${reply.slice(0, 120)}"`);
      if (!isOk && app.store.get().hunts.length > 0) wrong.push(`${label}: a hunt started`);
    }
    r.check('commands respect allowed rooms, allowed domains and admins (each refusal names the reason)', wrong.length === 0, wrong.slice(0, 3).join(' | '));
  } finally {
    await bot.stop();
  }
}

async function rateLimits(r: ReportBuilder): Promise<void> {
  const bot = await startInProcess({ HTTP_RATE_LIMIT_PER_MINUTE: '20' });
  try {
    const base = bot.app.http.url;
    const endpoints: [string, string][] = [['GET', '/healthz'], ['GET', '/readyz'], ['POST', '/webex/webhook'], ['POST', '/api/v1/sightings'], ['GET', '/nowhere']];
    const missing: string[] = [];
    for (let i = 0; i < 25; i++) await request(`${base}/healthz`).then((res) => res.body.text());
    for (const [method, path] of endpoints) {
      const res = await request(`${base}${path}`, { method: method as 'GET', body: method === 'POST' ? '{}' : undefined, headers: { 'content-type': 'application/json' } });
      await res.body.text();
      if (res.statusCode !== 429 || !res.headers['retry-after']) missing.push(`${method} ${path} → ${res.statusCode}`);
    }
    r.check('every endpoint answers 429 with Retry-After past HTTP_RATE_LIMIT_PER_MINUTE', missing.length === 0, missing.join(', '));
  } finally {
    await bot.stop();
  }
}

async function npmAudit(r: ReportBuilder): Promise<void> {
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile('npm', ['audit', '--omit=dev', '--json'], { cwd: PROJECT_ROOT, timeout: 90_000, maxBuffer: 20 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
  let summary: string;
  try {
    const j = JSON.parse(out.stdout) as { metadata?: { vulnerabilities?: Record<string, number> }; error?: { code?: string; summary?: string }; message?: string };
    const found = j.metadata?.vulnerabilities;
    if (found) {
      summary = `vulnerabilities: ${JSON.stringify(found)}`;
      r.check('`npm audit --omit=dev`: no high or critical advisory', (found.high ?? 0) + (found.critical ?? 0) === 0, summary);
    } else summary = `npm audit could not run (exit ${out.code}): ${j.error?.code ?? ''} ${j.error?.summary ?? j.message ?? ''} ${out.stderr.slice(0, 200)}`.trim();
  } catch {
    summary = `npm audit exited ${out.code}: ${(out.stderr || out.stdout).trim().split('\n').slice(-3).join(' ')}`;
  }
  r.figure('`npm audit --omit=dev`', summary.replace(/\s+/g, ' ').slice(0, 400));
  if (summary.startsWith('npm audit')) {
    r.finding(`\`npm audit\` could not run on this machine, so the advisory check is not proven here: ${summary.replace(/\s+/g, ' ').slice(0, 200)}. Where the registry answers it, this suite checks that there is no high or critical advisory.`);
  }
}
