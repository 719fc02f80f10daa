/**
 * Typed values the domain works with. Anything from outside (files, webhooks,
 * API answers) is validated at the edge and turned into these.
 */

/** A CTIM observable: `{type, value}` (xdr-api.md §4.1). */
export interface Observable {
  type: string;
  value: string;
}

/** A value we refused to investigate, with why; always reported, never silently dropped. */
export interface RejectedValue {
  value: string;
  reason: string;
  /** Where it came from in the source (e.g. "iocs.domain", "iocs.ip"). */
  field?: string;
}

/** One threat of a Talos roundup, cleaned and ready to investigate. */
export interface Threat {
  name: string;
  description: string;
  category: string;
  reportsCount: number;
  observables: Observable[];
  rejected: RejectedValue[];
  /** File paths, mutexes and registry keys: context for the report and casebook, not investigated. */
  context: { files: string[]; mutexes: string[]; registry: string[] };
  /** A Cisco-Talos/IOCs post: its blog address (observed-data url). */
  link?: string;
  /** A Cisco-Talos/IOCs post: its IOC files and what each one added to the union. */
  files?: PostFileSummary[];
}

/** One IOC file of a post: how many observables it holds and how many no earlier file had. */
export interface PostFileSummary {
  file: string;
  format: string;
  observables: number;
  added: number;
}

export interface Roundup {
  /** Where the file came from (URL or path). */
  source: string;
  publicationDate?: string;
  threats: Threat[];
}

/** CTIM disposition numbers (xdr-api.md §3.2). */
export const DISPOSITIONS = { 1: 'Clean', 2: 'Malicious', 3: 'Suspicious', 4: 'Common', 5: 'Unknown' } as const;
export type Disposition = keyof typeof DISPOSITIONS;

export interface Verdict {
  observable: Observable;
  disposition: Disposition;
  module: string;
}

/** A per-module error carried inside a 200 answer from XDR enrichment. */
export interface ModuleError {
  module?: string;
  code: string;
  message: string;
  type?: string;
}

/** A CTIM target (IdentitySpecification). */
export interface SightingTarget {
  type: string;
  observables: Observable[];
  observed_time?: { start_time?: string; end_time?: string };
  os?: string;
}

/** A sighting returned by one XDR module for an observe call. */
export interface ModuleSighting {
  module: string;
  moduleInstanceId?: string;
  /** The CTIM sighting as the module sent it. */
  sighting: {
    id?: string;
    source?: string;
    internal?: boolean;
    observables?: Observable[];
    targets?: SightingTarget[];
    observed_time?: { start_time?: string; end_time?: string };
    title?: string;
    description?: string;
    source_uri?: string;
    [k: string]: unknown;
  };
}

/** One target (machine) seen by one or more modules for one threat. */
export interface TargetFinding {
  /** Normalised key, e.g. "hostname:desktop-au3ip5k". */
  key: string;
  type: string;
  /** The identifying observables of the target (hostname, IP, MAC, GUID…). */
  identifiers: Observable[];
  modules: string[];
  /** The investigated observables that were sighted on it. */
  observables: Observable[];
  firstSeen?: string;
  lastSeen?: string;
  sourceUris: string[];
}
