import { SANDBOX_INVESTIGATE_EXAMPLE } from './demo/investigate.js';
import { rm } from 'node:fs/promises';
import { startApp } from '../app.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../core/logger.js';
import { fridayOfWeek } from '../domain/talos/week.js';
import { freePort } from './free-port.js';
import { startSandboxWeb } from './web-server.js';
import { SANDBOX_SIGHTINGS_SECRET, startWorld } from './world.js';
import { runPostgresSandbox } from './postgres-sandbox.js';
import { stopOnSignals } from './stop-signals.js';

/**
 * `npm run sandbox`: the whole bot on a laptop. Emulated Talos, XDR, Webex and
 * SMTP on loopback with a demo scenario, Sightline against them with state in a
 * throwaway folder, and a Webex-like room in the browser. Ctrl-C stops it all.
 */
async function main(): Promise<void> {
  // `npm run sandbox -- --postgres`: two instances on a throwaway PostgreSQL cluster (src/sandbox/postgres-sandbox.ts).
  if (process.argv.includes('--postgres')) return runPostgresSandbox();
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const world = await startWorld();
  // "This week's" roundup: the real 2021-07-23 file, published under this week's Friday.
  const friday = fridayOfWeek(new Date(), 'America/New_York');
  world.talos.publish(friday, '2021/0723.json');

  const port = await freePort();
  // Websocket mode by default, as most teams run it; `npm run sandbox -- --webhook` (or WEBEX_MODE=webhook) for webhook mode.
  const mode = process.argv.includes('--webhook') || process.env.WEBEX_MODE === 'webhook' ? 'webhook' : 'websocket';
  const config = loadConfig(world.env({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, WEBEX_MODE: mode }));
  const app = await startApp({ config, logger });
  const room = world.webex.createRoomAsPerson('SOC sandbox', ['alice@example.com', 'bob@example.com']);
  const web = await startSandboxWeb({
    webexUrl: world.webex.url,
    smtp: world.smtp,
    sightings: { url: `${app.http.url}/api/v1/sightings`, hmacSecret: SANDBOX_SIGHTINGS_SECRET },
    port: Number(process.env.SANDBOX_PORT ?? 3000),
    host: '127.0.0.1',
    logger,
  }).catch(() => startSandboxWeb({ webexUrl: world.webex.url, smtp: world.smtp, sightings: { url: `${app.http.url}/api/v1/sightings`, hmacSecret: SANDBOX_SIGHTINGS_SECRET }, port: 0, host: '127.0.0.1', logger }));

  process.stdout.write(
    [
      '',
      '  Sightline sandbox is running (everything on 127.0.0.1, no accounts needed).',
      '',
      `  → Open ${web.url} and type \`hunt now\` in the "${room.title}" room as Alice (an admin).`,
      '    Cards arrive in the "TALOS ROUNDUP Investigation" room; e-mails in the Mailbox tab.',
      '    Use "Send sightings" to grow an incident in "Sightline Incidents" and click "Close incident".',
      '    Paste IOCs (defanged is fine) to investigate them, e.g.:',
      `      ${SANDBOX_INVESTIGATE_EXAMPLE}`,
      '',
      `  Sightline HTTP: ${app.http.url}  (/healthz, /readyz, POST /api/v1/sightings)`,
      `  Webex events arrive over the ${mode === 'websocket' ? 'websocket (the default; `npm run sandbox -- --webhook` for webhooks)' : 'signed webhook'}.`,
      `  Emulators: Webex ${world.webex.url}  XDR ${world.xdr.url}  Talos ${world.talos.url}`,
      `  State (deleted on exit): ${world.stateDir}`,
      '',
      '  Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  stopOnSignals(async () => {
    await app.stop(8000).catch(() => undefined);
    await web.stop().catch(() => undefined);
    await world.stop();
    await rm(world.stateDir, { recursive: true, force: true });
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`The sandbox could not start: ${(err as Error).message}\n`);
  process.exit(1);
});
