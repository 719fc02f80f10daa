import { execFile } from 'node:child_process';
import { chown, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A throwaway PostgreSQL cluster: initdb in a temporary folder, a server on 127.0.0.1 and a
 * free port with trust auth on loopback, stopped and deleted at the end. Used by the sandbox
 * (`npm run sandbox -- --postgres`), the PostgreSQL crash suite and bench, and the tests
 * (test/support/postgres.ts). PostgreSQL refuses to run as root, so as root the binaries run
 * as a system user (the Debian package's `postgres`, else `nobody`) through `runuser`.
 */
const run = promisify(execFile);

export interface ClusterHandle {
  url: string;
  dataDir: string;
  binDir: string;
  /** The OS user the server runs as, when we are root (undefined: ourselves). */
  runAs: string | undefined;
}

export interface ClusterOptions {
  /**
   * fsync and full-page writes as in production (default false: a throwaway cluster never needs
   * to survive a power cut, and it halves the start). The bench turns it on so a commit costs
   * what it costs on a real server.
   */
  durable?: boolean;
  /** Default 200: several instances with their pools, plus tests. */
  maxConnections?: number;
  /** Load pg_stat_statements (the bench's "where PostgreSQL's time goes"); its contrib library ships with Debian's server package. */
  statements?: boolean;
}

/** What to install when the server binaries are missing (Debian's package; pg_ctl and initdb are in it). */
export const POSTGRES_INSTALL_HINT = 'install PostgreSQL’s server binaries (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)';

export class PostgresMissingError extends Error {
  constructor() {
    super(`PostgreSQL is not installed here: no initdb/pg_ctl found (pg_config --bindir, /usr/lib/postgresql/*/bin); ${POSTGRES_INSTALL_HINT}, or point DATABASE_URL at a server you have.`);
    this.name = 'PostgresMissingError';
  }
}

/** Where initdb and pg_ctl are: `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. */
export async function findPostgresBinaries(): Promise<string | undefined> {
  const candidates: string[] = [];
  try {
    const { stdout } = await run('pg_config', ['--bindir'], { timeout: 5000 });
    candidates.push(stdout.trim());
  } catch {
    // pg_config is in the -dev package or absent; the Debian layout below still works.
  }
  try {
    const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // not a Debian-style install
  }
  for (const dir of candidates) {
    if ((await isFile(join(dir, 'initdb'))) && (await isFile(join(dir, 'pg_ctl')))) return dir;
  }
  return undefined;
}

/** The binaries' folder, or a PostgresMissingError saying how to install them. */
export async function requirePostgresBinaries(): Promise<string> {
  const dir = await findPostgresBinaries();
  if (!dir) throw new PostgresMissingError();
  return dir;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The OS user to run the server as: none when we are not root. */
async function serverUser(): Promise<{ name: string; uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number((await run('id', ['-u', name])).stdout.trim());
      const gid = Number((await run('id', ['-g', name])).stdout.trim());
      return { name, uid, gid };
    } catch {
      // try the next one
    }
  }
  throw new Error('Running as root and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as; create one (useradd --system postgres).');
}

async function asUser(user: string | undefined, binary: string, args: string[], timeoutMs: number): Promise<string> {
  const [cmd, argv] = user ? ['runuser', ['-u', user, '--', binary, ...args]] : [binary, args];
  try {
    const { stdout } = await run(cmd, argv, { timeout: timeoutMs, cwd: '/' });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${binary.split('/').pop()} failed: ${(e.stderr || e.message).trim().slice(-1500)}`, { cause: err });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The server's -c settings for a throwaway cluster (pure: tested). */
export function clusterSettings(port: number, opts: ClusterOptions = {}): string[] {
  return [
    `listen_addresses=127.0.0.1`,
    `port=${port}`,
    `unix_socket_directories=''`,
    ...(opts.durable ? [] : [`fsync=off`, `full_page_writes=off`]),
    `max_connections=${opts.maxConnections ?? 200}`,
    // A durable cluster is the bench's stand-in for a real server: PostgreSQL's own default, not the tests' small one.
    `shared_buffers=${opts.durable ? '128MB' : '32MB'}`,
    ...(opts.statements ? [`shared_preload_libraries=pg_stat_statements`] : []),
  ];
}

/** initdb + pg_ctl start. `onDataDir` learns the folder before anything can fail, so a crash mid-start can still be cleaned. */
export async function startCluster(binDir: string, onDataDir: (dir: string) => Promise<void> = async () => {}, opts: ClusterOptions = {}): Promise<ClusterHandle> {
  const user = await serverUser();
  // As root, /tmp: a TMPDIR under /root would not be reachable by the server's user.
  const dataDir = await mkdtemp(join(user ? '/tmp' : tmpdir(), 'sightline-pg-'));
  await onDataDir(dataDir);
  if (user) await chown(dataDir, user.uid, user.gid);
  await asUser(user?.name, join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', ...(opts.durable ? [] : ['--no-sync']), '--no-instructions'], 60_000);
  // The port is free when we ask; another process may take it before the server binds, so try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const settings = clusterSettings(port, opts).map((s) => `-c ${s}`).join(' ');
    try {
      await asUser(user?.name, join(binDir, 'pg_ctl'), ['-D', dataDir, '-l', join(dataDir, 'server.log'), '-o', settings, '-w', '-t', '30', 'start'], 40_000);
      return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, dataDir, binDir, runAs: user?.name };
    } catch (err) {
      const log = await readFile(join(dataDir, 'server.log'), 'utf8').catch(() => '');
      lastError = new Error(`${(err as Error).message}\nserver log: ${log.slice(-1500)}`, { cause: err });
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

/** Stops the server (immediate: nothing in it is worth a checkpoint) and deletes the folder. */
export async function stopCluster(dataDir: string, binDir: string | undefined): Promise<void> {
  const bin = binDir ?? (await findPostgresBinaries());
  if (bin && (await isFile(join(dataDir, 'postmaster.pid')))) {
    const user = await serverUser();
    await asUser(user?.name, join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', '-t', '20', 'stop'], 30_000).catch(() => undefined);
  }
  await rm(dataDir, { recursive: true, force: true });
}

/** A running throwaway cluster for a program (sandbox, suites): started with a clear error when PostgreSQL is missing. */
export interface ThrowawayCluster extends ClusterHandle {
  stop(): Promise<void>;
}

export async function startThrowawayCluster(opts: ClusterOptions = {}): Promise<ThrowawayCluster> {
  const binDir = await requirePostgresBinaries();
  let dir: string | undefined;
  try {
    const handle = await startCluster(binDir, async (d) => void (dir = d), opts);
    return { ...handle, stop: () => stopCluster(handle.dataDir, handle.binDir) };
  } catch (err) {
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(`The throwaway PostgreSQL cluster did not start: ${(err as Error).message}`, { cause: err });
  }
}
