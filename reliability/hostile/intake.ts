/**
 * Hostile-input generators for the sightings intake and the state file (issue 17 items 2
 * and 8), used by the hostile-input suite and by unit tests. Each generator is a list of
 * named cases, so a failure names the shape that caused it.
 */

export interface CorruptStateCase {
  label: string;
  /** The whole file's text. */
  text: string;
  /** The path the refusal must name. */
  path: string;
}

/** A valid state with one incident, as the correlator writes it; cases break one part of it. */
export function sampleState(): Record<string, any> {
  const record = { seq: 1, observedAt: '2026-11-20T08:00:00.000Z', ioc: { type: 'domain', value: 'evil.example' }, source: 'curl' };
  return {
    version: 1,
    talos: { lastHuntedWeek: '2026-11-20' },
    hunts: [{ id: 'h1', trigger: 'schedule', startedAt: '2026-11-20T18:00:00.000Z', status: 'finished', threatsDone: [], casebooks: {} }],
    rooms: { 'Sightline Incidents': 'room-1' },
    outbox: [],
    correlation: {
      incidents: {
        'inc-1': {
          id: 'inc-1',
          ordinal: 1,
          targetKey: 'hostname:desktop-1',
          targetType: 'hostname',
          targetValue: 'desktop-1',
          status: 'New',
          count: 1,
          revision: 1,
          firstSeen: record.observedAt,
          lastSeen: record.observedAt,
          openedAt: record.observedAt,
          initial: record,
          recentSightings: [],
          lastIoc: record.ioc,
          lastSource: 'curl',
          iocs: [{ ...record.ioc, count: 1, lastSeen: record.observedAt }],
          iocsTotal: 1,
          sources: { curl: 1 },
          rungsFired: [],
          xdrSync: { pending: [{ id: 1, kind: 'create_incident', attempts: 0 }], dropped: 0 },
        },
      },
      openByTarget: { 'hostname:desktop-1': 'inc-1' },
      latestByTarget: { 'hostname:desktop-1': 'inc-1' },
      lastAppliedSeq: 1,
      nextOrdinal: 2,
      nextOpId: 2,
    },
    modules: { rss: {}, x: {} },
  };
}

/** Damaged state files: a section of the wrong type, a null where an object is, a bad op, a negative count… */
export function corruptStates(): CorruptStateCase[] {
  const cases: [string, string, (s: Record<string, any>) => void][] = [
    ['correlation a string', 'correlation', (s) => (s.correlation = 'oops')],
    ['incidents null', 'correlation.incidents', (s) => (s.correlation.incidents = null)],
    ['incidents an array', 'correlation.incidents', (s) => (s.correlation.incidents = [])],
    ['an incident null', 'correlation.incidents.inc-1', (s) => (s.correlation.incidents['inc-1'] = null)],
    ['count a string', 'correlation.incidents.inc-1.count', (s) => (s.correlation.incidents['inc-1'].count = '7')],
    ['count negative', 'correlation.incidents.inc-1.count', (s) => (s.correlation.incidents['inc-1'].count = -1)],
    ['xdrSync missing', 'correlation.incidents.inc-1.xdrSync', (s) => delete s.correlation.incidents['inc-1'].xdrSync],
    ['pending op of unknown kind', 'correlation.incidents.inc-1.xdrSync.pending[0].kind', (s) => (s.correlation.incidents['inc-1'].xdrSync.pending[0].kind = 'explode')],
    ['sighting op without ctim', 'correlation.incidents.inc-1.xdrSync.pending[0].ctim', (s) => (s.correlation.incidents['inc-1'].xdrSync.pending[0] = { id: 1, kind: 'sighting', seq: 1, attempts: 0 })],
    ['lastAppliedSeq null', 'correlation.lastAppliedSeq', (s) => (s.correlation.lastAppliedSeq = null)],
    ['openByTarget to a number', 'correlation.openByTarget.hostname:desktop-1', (s) => (s.correlation.openByTarget['hostname:desktop-1'] = 3)],
    ['hunts an object', 'hunts', (s) => (s.hunts = {})],
    ['hunt status unknown', 'hunts[0].status', (s) => (s.hunts[0].status = 'exploded')],
    ['threatsDone null', 'hunts[0].threatsDone', (s) => (s.hunts[0].threatsDone = null)],
    ['talos a number', 'talos', (s) => (s.talos = 5)],
    ['rooms to numbers', 'rooms.Sightline Incidents', (s) => (s.rooms['Sightline Incidents'] = 1)],
    ['outbox null', 'outbox', (s) => (s.outbox = null)],
    ['outbox item without id', 'outbox[0].id', (s) => (s.outbox = [{ channel: 'webex', key: 'r', createdAt: 'x', attempts: 0, nextAttemptAt: 'x' }])],
    ['modules.rss a list', 'modules.rss', (s) => (s.modules.rss = [])],
  ];
  return cases.map(([label, path, mutate]) => {
    const s = sampleState();
    mutate(s);
    return { label, path, text: JSON.stringify(s) };
  });
}

export interface AmplificationCase {
  label: string;
  body: unknown;
  /** The status the intake must answer. */
  expect: 202 | 413 | 422;
}

function ctim(targets: number, observables: number, hostLength: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'sighting',
    source: 'hostile',
    observed_time: { start_time: '2026-11-20T08:00:00Z' },
    targets: Array.from({ length: targets }, (_, i) => ({
      type: 'endpoint',
      observables: [{ type: 'hostname', value: `h${i}-${'x'.repeat(hostLength)}` }],
    })),
    observables: Array.from({ length: observables }, (_, i) => ({ type: 'domain', value: `ioc-${i}.example` })),
    ...extra,
  };
}

/**
 * Shapes that multiply: many targets with long names, targets × observables, the same fan-out
 * spread over a batch, a bulky sighting fanned out, and the near-ceiling one that must pass.
 * `tag` keeps the values of one run apart from another's.
 */
export function amplificationShapes(tag = ''): AmplificationCase[] {
  const bulky = { description: 'd'.repeat(4000), data: { columns: [{ name: 'c', type: 'string' }], rows: [['r'.repeat(6000)]] } };
  const t = (n: number, o: number, len: number, extra?: Record<string, unknown>) => ctim(n, o, len, { source: `hostile${tag}`, ...extra });
  return [
    { label: '1,000 targets × 1 observable, 300-byte hostnames (the reported attack)', body: t(1000, 1, 230), expect: 202 },
    { label: '1,001 targets × 1 observable', body: t(1001, 1, 10), expect: 422 },
    { label: '40 targets × 40 observables (1,600 pairs)', body: t(40, 40, 10), expect: 422 },
    { label: '2 × 600 pairs in one batch', body: [t(600, 1, 10), t(600, 1, 11)], expect: 413 },
    { label: '1,000 one-target CTIM sightings in one batch (1,000 pairs: at the ceiling)', body: Array.from({ length: 1000 }, (_, i) => t(1, 1, 5, { source: `hostile${tag}-${i}` })), expect: 202 },
    { label: '500 targets × a 10 KB sighting (5 MB of XDR copies)', body: t(500, 1, 10, bulky), expect: 413 },
    { label: '900-character hostnames (beyond the XDR title limit)', body: t(3, 1, 990), expect: 422 },
  ];
}

/** The parts of the in-process bot these checks use (reliability/in-process.ts). */
export interface IntakeTarget {
  url: string;
  stateFile: string;
  /** Resolves once accepted sightings are applied (intake idle). */
  idle(): Promise<void>;
  /** The in-memory state, serialised (what the next state write will hold). */
  stateBytes(): number;
}

export interface Post {
  (url: string, body: string): Promise<{ status: number; body: string; ms: number; error?: string }>;
}

interface Report {
  check(name: string, ok: boolean, detail?: string): boolean;
  figure(name: string, value: string | number): void;
}

/**
 * Amplification shapes at the running bot: every answer is the expected one (never a 5xx),
 * and what one request stores — journal and state — stays within a few times its size.
 */
export async function amplificationChecks(bot: IntakeTarget, post: Post, r: Report, tag = `-${Date.now()}`): Promise<void> {
  const { stat } = await import('node:fs/promises');
  const journalSize = () => stat(`${bot.stateFile}.journal`).then((s) => s.size, () => 0);
  const wrong: string[] = [];
  const growth: string[] = [];
  let worstRatio = 0;
  let worstPerPair = 0;
  let maxMs = 0;
  for (const c of amplificationShapes(tag)) {
    const body = JSON.stringify(c.body);
    const [j0, s0, rss0] = [await journalSize(), bot.stateBytes(), process.memoryUsage().rss];
    const res = await post(bot.url, body);
    await bot.idle();
    const [j1, s1, rss1] = [await journalSize(), bot.stateBytes(), process.memoryUsage().rss];
    maxMs = Math.max(maxMs, res.ms);
    if (res.status !== c.expect) wrong.push(`${c.label}: ${res.status} (expected ${c.expect}) ${res.error ?? res.body.slice(0, 120)}`);
    if (res.status >= 400 && !/"message":"[^"]{20,}/.test(res.body)) wrong.push(`${c.label}: ${res.status} without a sentence`);
    if (res.status === 202) {
      // The journal keeps the request (about once); the state keeps a bounded record per incident (one per new target).
      worstRatio = Math.max(worstRatio, (j1 - j0) / body.length);
      const accepted = (JSON.parse(res.body) as { accepted: number }).accepted;
      worstPerPair = Math.max(worstPerPair, Math.max(0, s1 - s0) / Math.max(1, accepted));
    }
    growth.push(`${c.label}: ${kb(body.length)} sent → ${res.status}, journal +${kb(j1 - j0)}, state ${s1 >= s0 ? '+' : '−'}${kb(Math.abs(s1 - s0))}, RSS ${rss1 >= rss0 ? '+' : '−'}${kb(Math.abs(rss1 - rss0))}, ${Math.round(res.ms)} ms`);
  }
  r.check('amplification shapes: each answered as expected (202 within the ceiling, 413/422 with a sentence beyond it), never a 5xx', wrong.length === 0, wrong.slice(0, 3).join(' | '));
  r.check('amplification shapes: the journal grows by at most 3 × the accepted request (a fanned-out sighting stored once)', worstRatio <= 3, `worst ${worstRatio.toFixed(2)} ×`);
  r.check('amplification shapes: the state grows by at most 4 KB per accepted pair (a bounded record per incident, not a copy of the request)', worstPerPair <= 4096, `worst ${Math.round(worstPerPair)} bytes`);
  r.figure('amplification: worst journal growth / request size (accepted shapes)', `${worstRatio.toFixed(2)} ×`);
  r.figure('amplification: worst state growth per accepted pair', `${(worstPerPair / 1024).toFixed(1)} KB`);
  r.figure('amplification: slowest answer (ms)', Math.round(maxMs));
  for (const [i, g] of growth.entries()) r.figure(`amplification shape ${i + 1}`, g);
}

/** Corrupt state files: each stops start-up with a sentence naming the damaged path, the file untouched. */
export async function corruptStateChecks(r: Report): Promise<void> {
  const { mkdtemp, readFile, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { LowdbStore } = await import('../../src/store/lowdb-store.js');
  const dir = await mkdtemp(join(tmpdir(), 'sightline-corrupt-'));
  const missed: string[] = [];
  const cases = corruptStates();
  try {
    for (const [i, c] of cases.entries()) {
      const file = join(dir, `state-${i}.json`);
      await writeFile(file, c.text);
      const err = await LowdbStore.open(file).then(
        () => undefined,
        (e: unknown) => e as { code?: string; userMessage?: string },
      );
      const untouched = (await readFile(file, 'utf8')) === c.text;
      if (!err || err.code !== 'store_corrupt' || !err.userMessage?.includes(`${c.path}:`) || !untouched) missed.push(`${c.label}: ${err?.userMessage?.slice(0, 100) ?? 'opened'}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  r.figure('corrupt state shapes refused at start-up, naming the path', `${cases.length - missed.length} / ${cases.length}`);
  r.check('every corrupt state shape stops start-up with a sentence naming its path, the file untouched', missed.length === 0, missed.slice(0, 3).join(' | '));
}

function kb(bytes: number): string {
  return bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
}
