import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Observable } from '../../domain/types.js';
import { DISPOSITIONS, type Disposition } from '../../domain/types.js';
import { irohError, json, route, type Reply, type Route } from './http-kit.js';
import { extractObservables } from './inspect.js';
import { moduleIdentity, observableKey, type XdrScenario } from './scenario.js';

/**
 * IROH inspect / enrich / response routes (xdr-api.md §3), answering from the
 * scenario with the real envelopes: `{data:[{module, module_instance_id,
 * module_type_id, data:{…}}], errors:[…]}`.
 */
export interface IrohDeps {
  scenario: () => XdrScenario;
  maxObservables: () => number;
  onTrigger: (t: TriggerRecord) => void;
}

export interface TriggerRecord {
  moduleInstanceId: string;
  actionId: string;
  observable: Observable;
  status: 'success' | 'failure';
}

const observablesBody = z.array(z.object({ type: z.string().min(1), value: z.string().min(1) }));
type Endpoint = 'deliberate' | 'observe' | 'refer' | 'respond';

export function irohRoutes(deps: IrohDeps): Route[] {
  const withObservables = (endpoint: Endpoint, answer: (s: XdrScenario, obs: Observable[]) => unknown[]) => (body: unknown): Reply => {
    const parsed = observablesBody.safeParse(body);
    if (!parsed.success) return irohError(400, 'invalid-request', 'The body must be a JSON array of observables {type, value}.');
    if (parsed.data.length > deps.maxObservables()) {
      return irohError(400, 'invalid-request', `Too many observables: ${parsed.data.length} (at most ${deps.maxObservables()} per request).`);
    }
    const s = deps.scenario();
    return json(200, { data: answer(s, parsed.data), errors: moduleErrors(s, endpoint) });
  };
  const deliberate = withObservables('deliberate', (s, obs) => enrich(s, obs, false));
  const observe = withObservables('observe', (s, obs) => enrich(s, obs, true));
  const refer = withObservables('refer', referLinks);
  const respond = withObservables('respond', actionsFor);
  return [
    route('POST', /^\/iroh\/iroh-inspect\/inspect$/, ({ body }) => {
      const content = (body as { content?: unknown } | undefined)?.content;
      if (typeof content !== 'string') return json(400, { content: 'missing-required-key' });
      return json(200, extractObservables(content));
    }),
    route('POST', /^\/iroh\/iroh-enrich\/deliberate\/observables$/, ({ body }) => deliberate(body)),
    route('POST', /^\/iroh\/iroh-enrich\/observe\/observables$/, ({ body }) => observe(body)),
    route('POST', /^\/iroh\/iroh-enrich\/refer\/observables$/, ({ body }) => refer(body)),
    route('POST', /^\/iroh\/iroh-response\/respond\/observables$/, ({ body }) => respond(body)),
    route('POST', /^\/iroh\/iroh-response\/respond\/trigger\/([^/]+)\/([^/]+)$/, ({ params, url }) => trigger(deps, params, url)),
  ];
}

function enrich(s: XdrScenario, observables: Observable[], withSightings: boolean): unknown[] {
  const byModule = new Map<string, { verdicts: unknown[]; sightings: unknown[] }>();
  const bucket = (module: string) => {
    let b = byModule.get(module);
    if (!b) byModule.set(module, (b = { verdicts: [], sightings: [] }));
    return b;
  };
  const now = new Date();
  for (const o of observables) {
    const key = observableKey(o);
    const verdicts = s.verdicts.filter((v) => observableKey(v.observable) === key);
    for (const v of verdicts) bucket(v.module).verdicts.push(verdictDoc(o, v.disposition as Disposition, now, v.omitName));
    if (verdicts.length === 0) bucket(s.unknownVerdictModule).verdicts.push(verdictDoc(o, 5, now));
    if (!withSightings) continue;
    for (const sg of s.sightings.filter((x) => observableKey(x.observable) === key)) bucket(sg.module).sightings.push(sightingDoc(sg, o, now));
  }
  return [...byModule].map(([module, b]) => {
    const id = moduleIdentity(s, module);
    const data: Record<string, unknown> = {};
    if (b.verdicts.length > 0) data.verdicts = { count: b.verdicts.length, docs: b.verdicts };
    if (b.sightings.length > 0) data.sightings = { count: b.sightings.length, docs: b.sightings };
    return {
      module,
      module_instance_id: id.instanceId,
      module_type_id: id.typeId,
      ...(id.legacyType ? { 'module-type': id.legacyType } : {}),
      data,
    };
  });
}

function verdictDoc(o: Observable, disposition: Disposition, now: Date, omitName?: boolean): unknown {
  return {
    type: 'verdict',
    disposition,
    ...(omitName ? {} : { disposition_name: DISPOSITIONS[disposition] }),
    observable: { type: o.type, value: o.value },
    valid_time: { start_time: now.toISOString(), end_time: new Date(now.getTime() + 30 * 86400_000).toISOString() },
  };
}

function sightingDoc(sg: XdrScenario['sightings'][number], o: Observable, now: Date): unknown {
  const targets = sg.targets ?? [];
  const observed = sg.observed_time ?? targets[0]?.observed_time ?? { start_time: now.toISOString(), end_time: now.toISOString() };
  return {
    type: 'sighting',
    id: `transient:${randomUUID()}`,
    schema_version: '1.3.30',
    source: sg.source ?? sg.module,
    ...(sg.source_uri ? { source_uri: sg.source_uri } : {}),
    title: sg.title ?? (targets.length > 0 ? 'Threat Detected' : 'Observable mentioned in threat intelligence'),
    ...(sg.description ? { description: sg.description } : {}),
    internal: sg.internal ?? targets.length > 0,
    confidence: sg.confidence ?? 'High',
    ...(sg.severity ? { severity: sg.severity } : {}),
    count: sg.count ?? 1,
    ...(targets.length > 0 ? { sensor: sg.sensor ?? 'endpoint', resolution: 'detected', targets } : {}),
    observed_time: observed,
    observables: [{ type: o.type, value: o.value }],
  };
}

function referLinks(s: XdrScenario, observables: Observable[]): unknown[] {
  const talos = moduleIdentity(s, 'Talos Intelligence');
  return observables.map((o) => ({
    id: `ref-talos-search-${o.type}-${o.value}`,
    module: talos.name,
    module_instance_id: talos.instanceId,
    module_type_id: talos.typeId,
    title: `Search for this ${o.type}`,
    description: `Lookup this ${o.type} on Talos Intelligence`,
    url: `https://www.talosintelligence.com/reputation_center/lookup?search=${encodeURIComponent(o.value)}`,
    categories: ['Talos Intelligence', 'Search'],
  }));
}

function actionsFor(s: XdrScenario, observables: Observable[]): unknown[] {
  return observables.flatMap((o) =>
    s.responseActions
      .filter((a) => a.observableTypes.includes(o.type))
      .map((a) => {
        const m = moduleIdentity(s, a.module);
        const q = new URLSearchParams({ observable_type: o.type, observable_value: o.value });
        return {
          id: a.id,
          title: a.title,
          description: a.description ?? a.title,
          module: a.module,
          module_instance_id: m.instanceId,
          module_type_id: m.typeId,
          url: `/iroh-response/respond/trigger/${m.instanceId}/${a.id}?${q}`,
          categories: a.categories,
        };
      }),
  );
}

function trigger(deps: IrohDeps, [mid, aid]: string[], url: URL): Reply {
  const type = url.searchParams.get('observable_type');
  const value = url.searchParams.get('observable_value');
  if (!type || !value) return irohError(400, 'invalid-request', 'observable_type and observable_value are required query parameters.');
  const s = deps.scenario();
  const action = s.responseActions.find((a) => a.id === aid && moduleIdentity(s, a.module).instanceId === mid);
  if (!action) return irohError(404, 'not-found', `No response action ${aid} on module instance ${mid}.`);
  const status = action.fails ? 'failure' : 'success';
  deps.onTrigger({ moduleInstanceId: mid!, actionId: aid!, observable: { type, value }, status });
  return json(200, { data: { status }, errors: [] });
}

function moduleErrors(s: XdrScenario, endpoint: Endpoint): unknown[] {
  return s.errors
    .filter((e) => e.endpoints.includes(endpoint))
    .map((e) => {
      const m = moduleIdentity(s, e.module);
      return { module: e.module, module_instance_id: m.instanceId, module_type_id: m.typeId, code: e.code, message: e.message, type: e.type };
    });
}
