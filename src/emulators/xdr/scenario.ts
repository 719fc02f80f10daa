import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * What the emulated XDR "knows": module verdicts, sightings on targets in the
 * customer environment, targetless threat-intel sightings, per-module errors
 * and the response actions on offer. Loadable from JSON (validated here).
 */
const observable = z.object({ type: z.string().min(1), value: z.string().min(1) });
const timeRange = z.object({ start_time: z.string(), end_time: z.string().optional() });

const moduleSchema = z.object({
  name: z.string().min(1),
  instanceId: z.string().optional(),
  typeId: z.string().optional(),
  /** Emit the legacy `module-type` key (older SecureX answers). */
  legacyType: z.string().optional(),
});

const targetSchema = z.object({
  type: z.string().default('endpoint'),
  observables: z.array(observable).min(1),
  observed_time: timeRange.optional(),
  os: z.string().optional(),
});

export const scenarioSchema = z.object({
  modules: z.array(moduleSchema).default([]),
  verdicts: z
    .array(
      z.object({
        observable,
        module: z.string(),
        disposition: z.number().int().min(1).max(5),
        /** Leave `disposition_name` out of the doc (it is optional in real answers). */
        omitName: z.boolean().optional(),
      }),
    )
    .default([]),
  sightings: z
    .array(
      z.object({
        observable,
        module: z.string(),
        /** Absent or empty: a global, targetless sighting (e.g. a Talos blog mention). */
        targets: z.array(targetSchema).optional(),
        internal: z.boolean().optional(),
        observed_time: timeRange.optional(),
        title: z.string().optional(),
        description: z.string().optional(),
        source: z.string().optional(),
        source_uri: z.string().optional(),
        confidence: z.string().optional(),
        severity: z.string().optional(),
        count: z.number().int().min(0).optional(),
        sensor: z.string().optional(),
      }),
    )
    .default([]),
  errors: z
    .array(
      z.object({
        module: z.string(),
        code: z.string(),
        message: z.string(),
        type: z.enum(['fatal', 'warning', 'error']).default('error'),
        endpoints: z.array(z.enum(['deliberate', 'observe', 'refer', 'respond'])).default(['deliberate', 'observe']),
      }),
    )
    .default([]),
  responseActions: z
    .array(
      z.object({
        id: z.string(),
        title: z.string(),
        description: z.string().optional(),
        module: z.string(),
        observableTypes: z.array(z.string()).min(1),
        categories: z.array(z.string()).default([]),
        /** Trigger answers `failure` instead of `success`. */
        fails: z.boolean().optional(),
      }),
    )
    .default([]),
  /** The module that answers Unknown (5) for observables nothing else knows. */
  unknownVerdictModule: z.string().default('AMP File Reputation'),
});

export type XdrScenario = z.output<typeof scenarioSchema>;
export type XdrScenarioInput = z.input<typeof scenarioSchema>;
export type ScenarioTarget = z.output<typeof targetSchema>;

export function parseScenario(input: unknown): XdrScenario {
  return scenarioSchema.parse(input);
}

export async function loadScenarioFile(path: string): Promise<XdrScenario> {
  return parseScenario(JSON.parse(await readFile(path, 'utf8')));
}

export interface ModuleIdentity {
  name: string;
  instanceId: string;
  typeId: string;
  legacyType?: string;
}

/** Module ids from the scenario, or stable uuids derived from the name. */
export function moduleIdentity(scenario: XdrScenario, name: string): ModuleIdentity {
  const m = scenario.modules.find((x) => x.name === name);
  return {
    name,
    instanceId: m?.instanceId ?? uuidFrom(`instance:${name}`),
    typeId: m?.typeId ?? uuidFrom(`type:${name}`),
    legacyType: m?.legacyType,
  };
}

function uuidFrom(seed: string): string {
  const h = createHash('sha1').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const observableKey = (o: { type: string; value: string }): string => `${o.type}|${o.value.toLowerCase()}`;

/** A CTIM IdentitySpecification for an endpoint (xdr-api.md §3.3). */
export function endpointTarget(host: { hostname: string; ip?: string; mac?: string; guid?: string; os?: string }, seenAt: string): ScenarioTarget {
  const observables = [{ type: 'hostname', value: host.hostname }];
  if (host.guid) observables.push({ type: 'amp_computer_guid', value: host.guid });
  if (host.ip) observables.push({ type: 'ip', value: host.ip });
  if (host.mac) observables.push({ type: 'mac_address', value: host.mac });
  return { type: 'endpoint', observables, observed_time: { start_time: seenAt, end_time: seenAt }, os: host.os };
}
