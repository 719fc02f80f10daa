import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createLogger, type Logger } from '../core/logger.js';
import { fridayOfWeek } from '../domain/talos/week.js';
import { SANDBOX_INVESTIGATE_EXAMPLE } from './demo/investigate.js';
import { freePort } from './free-port.js';
import { SightlineInstance, type LogLine } from './instance.js';
import { startThrowawayCluster, type ThrowawayCluster } from './postgres-cluster.js';
import { startRoundRobinProxy, type RoundRobinProxy } from './round-robin-proxy.js';
import { startSandboxWeb, type SandboxWeb } from './web-server.js';
import { stopOnSignals } from './stop-signals.js';
import { SANDBOX_SIGHTINGS_SECRET, startWorld, type EmulatedWorld } from './world.js';

/**
 * `npm run sandbox -- --postgres`: the sandbox with Sightline on PostgreSQL. A throwaway
 * cluster (initdb in a temporary folder, loopback port), TWO Sightline processes on one database
 * (each its own HTTP port), and one round-robin URL in front of them, as a load balancer would
 * be: Webex webhooks and the page's demo sightings go through it, so both instances take them.
 * The leader (which runs the schedule) is the one that logs that it won the election; when it is
 * stopped the other takes over, and the sandbox says so.
 */

/** How long to wait for one instance to log that it leads: LEADER_POLL_SECONDS (5 s by default) and some. */
export const LEADER_WAIT_MS = 30_000;

export interface PostgresSandbox {
  instances: SightlineInstance[];
  proxy: RoundRobinProxy;
  cluster: ThrowawayCluster;
  world: EmulatedWorld;
  stop(): Promise<void>;
}

/** Did the app run its migrations in `url`? (If not, this build ignores DATABASE_URL.) */
export async function databaseMigrated(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ t: string | null }>(`SELECT to_regclass('public.schema_migrations')::text AS t`);
    return Boolean(rows[0]?.t);
  } finally {
    await client.end();
  }
}

/**
 * Fails with a sentence when the instances run but not on PostgreSQL, or none leads: the
 * two things a build that does not (yet) run on PostgreSQL gets wrong first.
 */
export async function assertRunningOnPostgres(url: string, instances: readonly SightlineInstance[], leaderWaitMs = LEADER_WAIT_MS): Promise<SightlineInstance> {
  if (!(await databaseMigrated(url))) {
    throw new Error(
      'The Sightline instances started but did not use PostgreSQL: the database has no schema_migrations table after start-up. This build ignores DATABASE_URL (the app does not run on PostgreSQL yet).',
    );
  }
  const deadline = Date.now() + leaderWaitMs;
  while (Date.now() < deadline) {
    const leader = instances.find((i) => i.leader);
    if (leader) return leader;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`No Sightline instance logged that it was elected leader ("elected leader: …" from LeaderElector) within ${Math.round(leaderWaitMs / 1000)} s: the leader election is not wired, or its log line differs.`);
}

export interface PostgresSandboxOptions {
  /** Log lines of the instances (JSON, parsed) are printed when at or above this pino level (default warn = 40). */
  printLevel?: number;
  logger?: Logger;
  onLeaderChange?: (leader: SightlineInstance | undefined) => void;
  instanceCount?: number;
}

export async function startPostgresSandbox(opts: PostgresSandboxOptions = {}): Promise<PostgresSandbox> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const cluster = await startThrowawayCluster();
    cleanups.push(() => cluster.stop());
    const world = await startWorld();
    cleanups.push(() => world.stop());
    const friday = fridayOfWeek(new Date(), 'America/New_York');
    world.talos.publish(friday, '2021/0723.json');

    const count = opts.instanceCount ?? 2;
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    const proxy = await startRoundRobinProxy(ports.map((p) => `http://127.0.0.1:${p}`));
    cleanups.push(() => proxy.stop());
    const stateDir = await mkdtemp(path.join(tmpdir(), 'sightline-pg-sandbox-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const printLevel = opts.printLevel ?? 40;
    const print = (line: LogLine, inst: SightlineInstance) => {
      if ((line.level ?? 0) >= printLevel) process.stdout.write(`[${inst.name}] ${line.msg ?? JSON.stringify(line)}\n`);
    };
    const instances = ports.map(
      (port, i) =>
        new SightlineInstance({
          name: `instance-${String.fromCharCode(97 + i)}`,
          url: `http://127.0.0.1:${port}`,
          onLog: print,
          env: world.env({
            // info: the leader's election line is an info line; the sandbox prints only warnings and up.
            LOG_LEVEL: 'info',
            DATABASE_URL: cluster.url,
            HTTP_PORT: String(port),
            // Webex reaches "the bot" at one address, as behind a load balancer.
            PUBLIC_URL: proxy.url,
            WEBEX_MODE: 'webhook',
            // Not used on PostgreSQL; each its own so a build that ignores DATABASE_URL cannot mix two lowdb files.
            STATE_FILE: path.join(stateDir, `instance-${i}.json`),
          }),
        }),
    );
    cleanups.push(async () => void (await Promise.all(instances.map((i) => i.stop('SIGTERM')))));
    for (const inst of instances) {
      inst.onLeadership(() => opts.onLeaderChange?.(instances.find((i) => i.leader)));
    }
    // One after the other: both would race to apply the migrations (the advisory lock makes it safe, but the first start is easier to read).
    for (const inst of instances) await inst.start(90_000);
    await assertRunningOnPostgres(cluster.url, instances);
    return { instances, proxy, cluster, world, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The sandbox's entry with `--postgres`: start everything, print where it is, stop on Ctrl-C. */
export async function runPostgresSandbox(): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  let sandbox: PostgresSandbox | undefined;
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say('Starting a throwaway PostgreSQL cluster and two Sightline instances…');
  sandbox = await startPostgresSandbox({
    logger,
    onLeaderChange: (leader) => {
      if (sandbox) say(leader ? `  ↻ ${leader.name} (${leader.url}) is now the leader.` : '  ↻ no instance leads at the moment (the other takes over within LEADER_POLL_SECONDS).');
    },
  });
  const { instances, proxy, world, cluster } = sandbox;
  const room = world.webex.createRoomAsPerson('SOC sandbox', ['alice@example.com', 'bob@example.com']);
  const sightings = { url: `${proxy.url}/api/v1/sightings`, hmacSecret: SANDBOX_SIGHTINGS_SECRET };
  const web: SandboxWeb = await startSandboxWeb({ webexUrl: world.webex.url, smtp: world.smtp, sightings, port: Number(process.env.SANDBOX_PORT ?? 3000), host: '127.0.0.1', logger }).catch(() =>
    startSandboxWeb({ webexUrl: world.webex.url, smtp: world.smtp, sightings, port: 0, host: '127.0.0.1', logger }),
  );
  const leader = instances.find((i) => i.leader);
  say(
    [
      '',
      '  Sightline sandbox on PostgreSQL is running (everything on 127.0.0.1, no accounts needed).',
      '',
      `  → Open ${web.url} and type \`hunt now\` in the "${room.title}" room as Alice (an admin).`,
      '    "Send sightings" posts through the round-robin URL, so both instances take them; incidents are shared.',
      `    Paste IOCs to investigate them, e.g.: ${SANDBOX_INVESTIGATE_EXAMPLE}`,
      '',
      ...instances.map((i) => `  ${i.name}: ${i.url}  (pid ${i.pid})${i === leader ? '  ← leader (schedule, status sync, module polling)' : ''}`),
      `  One URL for both (Webex webhooks, sightings): ${proxy.url}`,
      `  Stop the leader (kill <pid>) to watch the other take over.`,
      `  PostgreSQL (deleted on exit): ${cluster.url}  data ${cluster.dataDir}`,
      `  Emulators: Webex ${world.webex.url}  XDR ${world.xdr.url}  Talos ${world.talos.url}`,
      '',
      '  Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  stopOnSignals(async () => {
    await web.stop().catch(() => undefined);
    await sandbox?.stop();
  });
}
