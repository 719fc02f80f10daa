/**
 * CTIM rules the emulated CTIA enforces on writes (xdr-api.md §4), answering
 * like compojure-api does: 400 `{errors: {field: reason}, type: …}`.
 */
export type CtiaType = 'incident' | 'sighting' | 'relationship' | 'casebook';
export const CTIA_TYPES: CtiaType[] = ['incident', 'sighting', 'relationship', 'casebook'];

export const CONFIDENCES = ['Info', 'Low', 'Medium', 'High', 'None', 'Unknown'];
export const SEVERITIES = [...CONFIDENCES, 'Critical'];
export const TLPS = ['red', 'amber', 'green', 'white'];
export const INCIDENT_STATUSES = [
  'New', 'Open', 'Stalled', 'Containment Achieved', 'Restoration Achieved', 'Incident Reported', 'Closed', 'Rejected',
  'Hold', 'New: Processing', 'New: Presented', 'Open: Investigating', 'Open: Reported', 'Open: Contained', 'Open: Recovered',
  'Hold: Internal', 'Hold: External', 'Hold: Legal', 'Closed: Under Review', 'Closed: Confirmed Threat', 'Closed: Suspected',
  'Closed: False Positive', 'Closed: Near-Miss', 'Closed: Merged', 'Closed: Other',
];

/** Long ids only: `http(s)://host/ctia/<type>/<type>-<id>` (transient ids are for bulk/bundle). */
export const LONG_ID = /^https?:\/\/[^/\s]+\/ctia\/([a-z-]+)\/\1-[A-Za-z0-9-]+$/;

type Problems = Record<string, string>;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const enumProblem = (allowed: string[], v: unknown) => `(not (#{${allowed.map((a) => `"${a}"`).join(' ')}} ${JSON.stringify(v)}))`;

function checkEnum(p: Problems, body: Obj, key: string, allowed: string[], required = false): void {
  const v = body[key];
  if (v === undefined) {
    if (required) p[key] = 'missing-required-key';
  } else if (typeof v !== 'string' || !allowed.includes(v)) p[key] = enumProblem(allowed, v);
}

function checkString(p: Problems, body: Obj, key: string, max: number, required = false): void {
  const v = body[key];
  if (v === undefined) {
    if (required) p[key] = 'missing-required-key';
  } else if (typeof v !== 'string') p[key] = `(not (instance? java.lang.String ${JSON.stringify(v)}))`;
  else if (v.length > max) p[key] = `(not (max-len ${max}))`;
}

function checkObservables(p: Problems, body: Obj, key: string): void {
  const v = body[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || !v.every((o) => isObj(o) && typeof o.type === 'string' && typeof o.value === 'string')) {
    p[key] = '(not (sequential-of-observables))';
  }
}

function checkCommon(p: Problems, body: Obj): void {
  checkString(p, body, 'title', 1024);
  checkString(p, body, 'short_description', 2048);
  checkString(p, body, 'description', 5000);
  checkString(p, body, 'source', 2048);
  checkEnum(p, body, 'tlp', TLPS);
  const ext = body.external_ids;
  if (ext !== undefined && !(Array.isArray(ext) && ext.every((e) => typeof e === 'string'))) p.external_ids = '(not (sequential-of-strings))';
}

/** Problems with a New* entity (POST/PUT body), or undefined when valid. */
export function validateNew(type: CtiaType, body: unknown): Problems | undefined {
  if (!isObj(body)) return { body: '(not (map? body))' };
  const p: Problems = {};
  checkCommon(p, body);
  switch (type) {
    case 'incident': {
      const t = body.incident_time;
      if (t === undefined) p.incident_time = 'missing-required-key';
      else if (!isObj(t) || typeof t.opened !== 'string') p.incident_time = '{:opened missing-required-key}';
      checkEnum(p, body, 'status', INCIDENT_STATUSES, true);
      checkEnum(p, body, 'confidence', CONFIDENCES, true);
      checkEnum(p, body, 'severity', SEVERITIES);
      checkXdrIncidentFields(p, body);
      break;
    }
    case 'sighting': {
      const t = body.observed_time;
      if (t === undefined) p.observed_time = 'missing-required-key';
      else if (!isObj(t) || typeof t.start_time !== 'string') p.observed_time = '{:start_time missing-required-key}';
      checkEnum(p, body, 'confidence', CONFIDENCES);
      checkEnum(p, body, 'severity', SEVERITIES);
      checkObservables(p, body, 'observables');
      if (body.count !== undefined && !(Number.isInteger(body.count) && (body.count as number) >= 0)) p.count = '(not (integer>=0))';
      const targets = body.targets;
      if (targets !== undefined && !(Array.isArray(targets) && targets.every((t) => isObj(t) && typeof t.type === 'string' && Array.isArray(t.observables) && isObj(t.observed_time)))) {
        p.targets = '(not (sequential-of-identity-specifications))';
      }
      break;
    }
    case 'relationship': {
      checkString(p, body, 'relationship_type', 1024, true);
      for (const key of ['source_ref', 'target_ref']) {
        const v = body[key];
        if (v === undefined) p[key] = 'missing-required-key';
        else if (typeof v !== 'string' || !LONG_ID.test(v)) p[key] = `(not (long-id? ${JSON.stringify(v)}))`;
      }
      break;
    }
    case 'casebook': {
      checkObservables(p, body, 'observables');
      const texts = body.texts;
      if (texts !== undefined && !(Array.isArray(texts) && texts.every((t) => isObj(t) && typeof t.type === 'string' && typeof t.text === 'string'))) {
        p.texts = '(not (sequential-of-texts))';
      }
      break;
    }
  }
  return Object.keys(p).length > 0 ? p : undefined;
}

export const PROMOTION_METHODS = ['Manual', 'Automated'];
export const DETECTION_STATUSES = ['active', 'inactive_merged', 'inactive_expired', 'inactive_oversized', 'inactive_user_closed'];

/** The incident fields XDR ranks and describes its queue by (xdr-api.md §4.3). */
function checkXdrIncidentFields(p: Problems, body: Obj): void {
  checkEnum(p, body, 'promotion_method', PROMOTION_METHODS);
  checkEnum(p, body, 'detection_status', DETECTION_STATUSES);
  for (const key of ['detection_sources', 'tactics', 'techniques', 'categories', 'assignees']) {
    const v = body[key];
    if (v !== undefined && !(Array.isArray(v) && v.every((e) => typeof e === 'string'))) p[key] = '(not (sequential-of-strings))';
  }
  const scores = body.scores;
  if (scores !== undefined && !(isObj(scores) && Object.values(scores).every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0))) {
    p.scores = '(not (map-of-keyword-to-number>=0))';
  }
}

export function validationErrorBody(problems: Problems): unknown {
  return { errors: problems, type: 'compojure.api.exception/request-validation', coercion: 'schema', in: ['request', 'body-params'] };
}

export const isClosedStatus = (s: unknown): boolean => typeof s === 'string' && /^Closed(: .+)?$/.test(s);
