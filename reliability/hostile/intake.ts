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
    { label: '1,000 single-target module payloads in one batch (1,000 pairs: at the ceiling)', body: Array.from({ length: 1000 }, (_, i) => t(1, 1, 5, { source: `hostile${tag}-${i}` })), expect: 202 },
    { label: '500 targets × a 10 KB sighting (5 MB of XDR copies)', body: t(500, 1, 10, bulky), expect: 413 },
    { label: '900-character hostnames (beyond the XDR title limit)', body: t(3, 1, 990), expect: 422 },
  ];
}
