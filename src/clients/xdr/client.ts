import pLimit, { type LimitFunction } from 'p-limit';
import type { z } from 'zod';
import type { Config } from '../../config/load.js';
import { UpstreamError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { DISPOSITIONS, type Disposition, type ModuleError, type ModuleSighting, type Observable, type Verdict } from '../../domain/types.js';
import { HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse } from '../http.js';
import { XdrTokenError, XdrTokenProvider } from './auth.js';
import { incidentPaths, type IncidentPaths } from './incident-api.js';
import { shortIdOf, type CtiaEntity, type DeliberateResult, type ObserveResult, type ReferLink, type ResponseAction, type XdrPort } from '../../domain/ports/xdr.js';
import {
  ctiaEntityListSchema,
  ctiaEntitySchema,
  enrichEnvelopeSchema,
  incidentStatusListSchema,
  inspectResponseSchema,
  referEnvelopeSchema,
  responseActionsEnvelopeSchema,
  sightingDocSchema,
  triggerEnvelopeSchema,
  verdictDocSchema,
  type EnrichEnvelope,
  type ModuleResult,
} from './schemas.js';

/** The status sync's search: incidents per page, and pages per sync at most (the rest are read one by one). */
const STATUS_PAGE_SIZE = 1000;
const STATUS_PAGES = 50;

export interface XdrHttpClientOptions {
  xdr: Config['xdr'];
  logger: Logger;
  /** Used as-is for API calls (the bearer token is then added per call instead of by a hook). */
  http?: HttpClient;
  /** Test and benchmark knobs for the client this class builds (retry policy, sleep, dispatcher). */
  httpOptions?: Pick<HttpClientOptions, 'retry' | 'sleep' | 'dispatcher'>;
  /** Clock for token renewal; milliseconds since the epoch. */
  now?: () => number;
}

type EnrichKind = 'deliberate' | 'observe';

/**
 * Cisco XDR over HTTP: IROH inspect/enrich/response and CTIA private intel
 * (xdr-api.md §2–§5). Every API call shares one concurrency limit, so however
 * many hunts run at once XDR never sees more than `xdr.concurrency` requests.
 */
export class XdrHttpClient implements XdrPort {
  private readonly xdr: Config['xdr'];
  private readonly logger: Logger;
  private readonly auth: XdrTokenProvider;
  private readonly http: HttpClient;
  private readonly hookAddsToken: boolean;
  private readonly limit: LimitFunction;
  /** XDR_INCIDENT_API: where incident create/read/patch/status/search go. */
  readonly incidents: IncidentPaths;
  /** Which token each request carried, so a 401 invalidates exactly that one. */
  private readonly tokenUsed = new WeakMap<HttpRequest, string>();

  constructor(opts: XdrHttpClientOptions) {
    this.xdr = opts.xdr;
    this.logger = opts.logger.child({ component: 'xdr' });
    this.auth = new XdrTokenProvider({
      tokenUrl: opts.xdr.tokenUrl,
      clientId: opts.xdr.clientId,
      clientPassword: opts.xdr.clientPassword,
      logger: this.logger,
      now: opts.now,
      timeoutMs: opts.xdr.timeoutMs,
      httpOptions: opts.httpOptions,
    });
    this.hookAddsToken = opts.http === undefined;
    this.http =
      opts.http ??
      new HttpClient({
        service: 'XDR',
        logger: this.logger,
        defaultTimeoutMs: opts.xdr.timeoutMs,
        describeError: describeApiError,
        beforeRequest: async (req) => ({ authorization: `Bearer ${await this.tokenFor(req)}` }),
        ...opts.httpOptions,
      });
    this.limit = pLimit(opts.xdr.concurrency);
    this.incidents = incidentPaths(opts.xdr.incidentApi ?? 'private-intel', opts.xdr);
  }

  /** Every HTTP attempt made: API calls (with retries) plus token requests. */
  get callCount(): number {
    return this.http.attempts + this.auth.requestCount;
  }

  async deliberate(observables: Observable[], signal?: AbortSignal): Promise<DeliberateResult> {
    const { envelopes, calls } = await this.enrich('deliberate', observables, signal);
    const verdicts: Verdict[] = [];
    const errors = envelopes.flatMap((env) => env.errors.map(toModuleError));
    for (const mod of envelopes.flatMap((env) => env.data)) {
      const name = moduleName(mod);
      for (const doc of mod.data.verdicts?.docs ?? []) {
        const parsed = verdictDocSchema.safeParse(doc);
        if (parsed.success) {
          const { type, value } = parsed.data.observable;
          verdicts.push({ observable: { type, value }, disposition: parsed.data.disposition as Disposition, module: name });
        } else errors.push(unreadable(name, 'verdict'));
      }
    }
    return { verdicts, errors, calls };
  }

  async observe(observables: Observable[], signal?: AbortSignal): Promise<ObserveResult> {
    const { envelopes, calls } = await this.enrich('observe', observables, signal);
    const sightings: ModuleSighting[] = [];
    const errors = envelopes.flatMap((env) => env.errors.map(toModuleError));
    for (const mod of envelopes.flatMap((env) => env.data)) {
      const name = moduleName(mod);
      for (const doc of mod.data.sightings?.docs ?? []) {
        const parsed = sightingDocSchema.safeParse(doc);
        if (parsed.success) sightings.push({ module: name, moduleInstanceId: mod.module_instance_id, sighting: parsed.data });
        else errors.push(unreadable(name, 'sighting'));
      }
    }
    return { sightings, errors, calls };
  }

  async inspect(content: string): Promise<Observable[]> {
    const res = await this.call({ method: 'POST', url: `${this.xdr.irohBase}/iroh-inspect/inspect`, body: { content }, idempotent: true });
    return parseOrThrow(inspectResponseSchema, res, 'inspect').map(({ type, value }) => ({ type, value }));
  }

  async createCasebook(casebook: Parameters<XdrPort['createCasebook']>[0]): Promise<CtiaEntity> {
    return this.ctiaCreate('casebook', { ...casebook, type: 'casebook' });
  }

  async findCasebookByExternalId(externalId: string): Promise<CtiaEntity | undefined> {
    return (await this.ctiaByExternalId('casebook', externalId))[0];
  }

  async createSighting(sighting: Record<string, unknown>): Promise<CtiaEntity> {
    return this.ctiaCreate('sighting', sighting);
  }

  async createIncident(incident: Record<string, unknown>): Promise<CtiaEntity> {
    // Not idempotent: retried on 429 only; callers look the external id up before trying again.
    const res = await this.call({ method: 'POST', url: this.incidents.create, body: incident });
    return parseOrThrow(ctiaEntitySchema, res, 'incident create');
  }

  async patchIncident(shortId: string, patch: Record<string, unknown>): Promise<CtiaEntity> {
    // A patch sets absolute values (description, count, confidence): repeating it after a 5xx is harmless.
    const res = await this.call({ method: 'PATCH', url: this.incidents.one(shortId), body: patch, idempotent: true });
    return parseOrThrow(ctiaEntitySchema, res, 'incident patch');
  }

  async setIncidentStatus(shortId: string, status: string): Promise<CtiaEntity> {
    const res = await this.call({ method: 'POST', url: this.incidents.status(shortId), body: { status }, idempotent: true });
    return parseOrThrow(ctiaEntitySchema, res, 'incident status');
  }

  async getIncident(shortId: string): Promise<CtiaEntity | undefined> {
    const res = await this.call({ method: 'GET', url: this.incidents.one(shortId), acceptStatus: [404] });
    return res.status === 404 ? undefined : parseOrThrow(ctiaEntitySchema, res, 'incident');
  }

  async findIncidentsByExternalId(externalId: string): Promise<CtiaEntity[]> {
    const res = await this.call({ method: 'GET', url: this.incidents.byExternalId(externalId), acceptStatus: [404] });
    if (res.status === 404) return [];
    // A Lucene phrase on a text field could also match a longer id: keep exact matches only.
    return parseOrThrow(ctiaEntityListSchema, res, 'incident external_id lookup').filter(
      (e) => !Array.isArray(e.external_ids) || e.external_ids.includes(externalId),
    );
  }

  async incidentStatusesSince(source: string, createdFrom: string): Promise<Map<string, string>> {
    const statuses = new Map<string, string>();
    let from = createdFrom;
    // Paged by moving `from` to the last `created` seen (sorted ascending), not by offset: Elasticsearch
    // refuses offsets past 10,000 hits. The last page's items come again on the next (`from` is inclusive).
    for (let page = 0; page < STATUS_PAGES; page++) {
      const params = new URLSearchParams([
        ['source', source],
        ['from', from],
        ['sort_by', 'created:asc'],
        ['limit', String(STATUS_PAGE_SIZE)],
        ['fields', 'id'],
        ['fields', 'status'],
        ['fields', 'created'],
      ]);
      const res = await this.call({ method: 'GET', url: `${this.incidents.search}?${params}` });
      const items = parseOrThrow(incidentStatusListSchema, res, 'incident status search');
      let added = 0;
      for (const item of items) {
        const shortId = shortIdOf(item.id);
        if (!statuses.has(shortId)) added++;
        statuses.set(shortId, item.status ?? '');
      }
      const last = items.at(-1)?.created;
      // A short page is the last; a page of nothing new (a thousand incidents created in the same
      // millisecond) cannot move on: the caller reads the rest one by one.
      if (items.length < STATUS_PAGE_SIZE || !last || added === 0) break;
      from = last;
    }
    for (const [id, status] of statuses) if (status === '') statuses.delete(id);
    return statuses;
  }

  async createRelationship(rel: Parameters<XdrPort['createRelationship']>[0]): Promise<CtiaEntity> {
    return this.ctiaCreate('relationship', rel);
  }

  async findRelationshipsByExternalId(externalId: string): Promise<CtiaEntity[]> {
    return this.ctiaByExternalId('relationship', externalId);
  }

  async findSightingsByExternalId(externalId: string): Promise<CtiaEntity[]> {
    return this.ctiaByExternalId('sighting', externalId);
  }

  async listResponseActions(observables: Observable[]): Promise<ResponseAction[]> {
    if (observables.length === 0) return [];
    const res = await this.call({
      method: 'POST',
      url: `${this.xdr.irohBase}/iroh-response/respond/observables`,
      body: observables.map(({ type, value }) => ({ type, value })),
      idempotent: true, // listing actions runs nothing
    });
    const env = parseOrThrow(responseActionsEnvelopeSchema, res, 'response actions');
    if (env.errors.length > 0) this.logger.warn({ errors: env.errors.map(toModuleError) }, 'XDR modules reported errors while listing response actions');
    return env.data.map((a) => {
      const action: ResponseAction = { id: a.id, title: a.title, module: a.module, moduleInstanceId: a.module_instance_id };
      const observable = observableOfTriggerUrl(a.url);
      if (observable) action.observable = observable;
      return action;
    });
  }

  async refer(observables: Observable[], signal?: AbortSignal): Promise<{ links: ReferLink[]; calls: number }> {
    const batches = chunk(uniqueObservables(observables), this.xdr.batchSize);
    const url = `${this.xdr.irohBase}/iroh-enrich/refer/observables`;
    const envelopes = await Promise.all(
      batches.map(async (batch) => {
        const res = await this.call({ method: 'POST', url, body: batch, idempotent: true, signal });
        return parseOrThrow(referEnvelopeSchema, res, 'refer');
      }),
    );
    const links: ReferLink[] = [];
    for (const ref of envelopes.flatMap((env) => env.data)) {
      if (!ref.url) continue;
      links.push({ module: ref.module, title: ref.title, ...(ref.description ? { description: ref.description } : {}), url: ref.url });
    }
    return { links, calls: batches.length };
  }

  async triggerResponseAction(action: ResponseAction, observable: Observable): Promise<{ status: string }> {
    const query = new URLSearchParams({ observable_type: observable.type, observable_value: observable.value });
    const path = `/iroh-response/respond/trigger/${encodeURIComponent(action.moduleInstanceId)}/${encodeURIComponent(action.id)}`;
    // Not idempotent (it blocks, isolates…): never blindly retried on a 5xx.
    const res = await this.call({ method: 'POST', url: `${this.xdr.irohBase}${path}?${query}`, body: {} });
    const env = parseOrThrow(triggerEnvelopeSchema, res, 'response trigger');
    return { status: env.data.status };
  }

  /** Splits into batches of `batchSize` and runs them under the shared concurrency limit. */
  private async enrich(kind: EnrichKind, observables: Observable[], signal?: AbortSignal): Promise<{ envelopes: EnrichEnvelope[]; calls: number }> {
    const batches = chunk(uniqueObservables(observables), this.xdr.batchSize);
    const url = `${this.xdr.irohBase}/iroh-enrich/${kind}/observables`;
    const envelopes = await Promise.all(
      batches.map(async (batch) => {
        // Enrichment only reads, so 5xx and dropped connections are safe to retry.
        const res = await this.call({ method: 'POST', url, body: batch, idempotent: true, signal });
        return parseOrThrow(enrichEnvelopeSchema, res, kind);
      }),
    );
    return { envelopes, calls: batches.length };
  }

  private async ctiaCreate(entity: string, body: object): Promise<CtiaEntity> {
    // Creates are not idempotent: HttpClient retries them on 429 only, never blindly on a 5xx.
    const res = await this.call({ method: 'POST', url: `${this.xdr.ctiaBase}/${entity}`, body });
    return parseOrThrow(ctiaEntitySchema, res, `${entity} create`);
  }

  private async ctiaByExternalId(entity: string, externalId: string): Promise<CtiaEntity[]> {
    const url = `${this.xdr.ctiaBase}/${entity}/external_id/${encodeURIComponent(externalId)}`;
    const res = await this.call({ method: 'GET', url, acceptStatus: [404] });
    return res.status === 404 ? [] : parseOrThrow(ctiaEntityListSchema, res, `${entity} external_id lookup`);
  }

  private async tokenFor(req: HttpRequest): Promise<string> {
    const token = await this.auth.token();
    this.tokenUsed.set(req, token);
    return token;
  }

  /** One API call under the shared limit; a 401 renews the token and retries once. */
  private call<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    return this.limit(async () => {
      try {
        return await this.sendWithToken<T>(req);
      } catch (err) {
        if (!(err instanceof UpstreamError) || err instanceof XdrTokenError || err.status !== 401) throw err;
        this.auth.invalidate(this.tokenUsed.get(req));
        this.logger.info({ url: req.url.split('?')[0] }, 'XDR refused the access token; renewing it and retrying once');
        return this.sendWithToken<T>(req);
      }
    });
  }

  private async sendWithToken<T>(req: HttpRequest): Promise<HttpResponse<T>> {
    if (this.hookAddsToken) return this.http.send<T>(req);
    const token = await this.tokenFor(req);
    return this.http.send<T>({ ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } });
  }
}

function describeApiError(status: number | undefined, body: unknown): string | undefined {
  if (status === 401) return 'XDR refused the access token: check XDR_CLIENT_ID, XDR_CLIENT_PASSWORD and that XDR_REGION matches the API client.';
  if (status === 403) {
    const missing = (body as { 'missing-scopes'?: unknown } | undefined)?.['missing-scopes'];
    const scopes = Array.isArray(missing) ? ` (missing: ${missing.join(', ')})` : '';
    return `XDR refused the call for lack of scope${scopes}: give the API client the inspect, enrich, private-intel, casebook and response scopes.`;
  }
  return undefined;
}

function parseOrThrow<S extends z.ZodType>(schema: S, res: HttpResponse, what: string): z.output<S> {
  const parsed = schema.safeParse(res.body);
  if (parsed.success) return parsed.data;
  throw new UpstreamError('XDR', `XDR answered the ${what} call in an unexpected shape; check XDR_IROH_BASE and XDR_CTIA_BASE point at XDR.`, {
    status: res.status,
    detail: parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.')}: ${i.message}`)
      .join('; '),
  });
}

function moduleName(mod: ModuleResult): string {
  return mod.module ?? mod['module-type'] ?? mod.module_type_id ?? 'unknown module';
}

function toModuleError(e: { module?: string; module_instance_id?: string; code: string; message: string; type?: string }): ModuleError {
  return { module: e.module ?? e.module_instance_id, code: e.code, message: e.message, type: e.type };
}

function unreadable(module: string, what: string): ModuleError {
  return { module, code: 'unreadable-doc', message: `A ${what} from ${module} could not be read and was skipped.`, type: 'warning' };
}

/** XDR's action `url` is the trigger path with `observable_type` / `observable_value` (xdr-api.md §3.5). */
function observableOfTriggerUrl(url: string | undefined): Observable | undefined {
  if (!url) return undefined;
  const query = url.indexOf('?');
  if (query === -1) return undefined;
  const params = new URLSearchParams(url.slice(query + 1));
  const type = params.get('observable_type');
  const value = params.get('observable_value');
  return type && value ? { type, value } : undefined;
}

function uniqueObservables(observables: Observable[]): Observable[] {
  const seen = new Map<string, Observable>();
  for (const { type, value } of observables) seen.set(`${type}\u0000${value}`, { type, value });
  return [...seen.values()];
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The disposition name for a number, for callers that render verdicts. */
export function dispositionName(d: Disposition): string {
  return DISPOSITIONS[d];
}

/** Fills `{id}` (URL-encoded long id), `{shortId}` (`casebook-<uuid>`) and `{uuid}` in a UI link template. */
export function entityUrl(template: string, longId: string): string {
  const shortId = shortIdOf(longId);
  const uuid = shortId.replace(/^[a-z_-]+?-(?=[0-9a-fA-F]{8}-)/, '');
  return template.replaceAll('{id}', encodeURIComponent(longId)).replaceAll('{shortId}', shortId).replaceAll('{uuid}', uuid);
}

export const casebookUrl = (template: string, longId: string): string => entityUrl(template, longId);
export const incidentUrl = (template: string, longId: string): string => entityUrl(template, longId);
