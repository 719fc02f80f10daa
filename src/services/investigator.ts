import type { ReferLink, ResponseAction, XdrPort } from '../domain/ports/xdr.js';
import type { InvestigationOutcome, InvestigationService, XdrCallCounts } from '../bot/investigate-service.js';
import type { Clock } from '../core/clock.js';
import { asSightlineError, UpstreamError, ValidationError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { cleanKeys, type CleanRule } from '../domain/hunt/verdicts.js';
import { buildReport, linkOwner, type OfferedAction, type TargetView } from '../domain/investigate/report.js';
import { targetSightings } from '../domain/investigate/sightings.js';
import { extractIocs } from '../domain/ioc/extract.js';
import type { ModuleError, ModuleSighting, Observable, Verdict } from '../domain/types.js';
import { LookupCache } from './investigate-cache.js';
import { offerKey, type ResponseActionDesk } from './response-actions.js';

/**
 * `investigate <text>`: the project's own extractor (refangs `[.]`, `hxxp`,
 * `[dot]`; no XDR call, no inspect size limit), then ONE batched pass per batch
 * of XDR_BATCH_SIZE: deliberate → observe the non-Clean ones (the hunt's rule),
 * with refer and respond alongside, then respond once more for the targets that
 * sighted them. Answers per observable are cached for INVESTIGATE_CACHE_SECONDS.
 */
export interface InvestigatorOptions {
  xdr: XdrPort;
  desk: ResponseActionDesk;
  clock: Clock;
  logger: Logger;
  maxObservables: number;
  cacheSeconds: number;
  batchSize: number;
  excludedModules: string[];
  cleanRule: CleanRule;
  /** The open Sightline incident of a target key, if any (from memory on lowdb, a query on PostgreSQL). */
  incidentFor?: (targetKey: string) => TargetView['incident'] | Promise<TargetView['incident']>;
}

interface Lookup {
  observable: Observable;
  verdicts: Verdict[];
  sightings: ModuleSighting[];
  links: ReferLink[];
  actions: ResponseAction[];
}

export class Investigator implements InvestigationService {
  private readonly lookups: LookupCache<Lookup>;
  private readonly targetActions: LookupCache<ResponseAction[]>;
  private readonly log: Logger;

  constructor(private readonly opts: InvestigatorOptions) {
    const ttl = opts.cacheSeconds * 1000;
    this.lookups = new LookupCache(opts.clock, ttl);
    this.targetActions = new LookupCache(opts.clock, ttl);
    this.log = opts.logger.child({ component: 'investigate' });
  }

  async investigate(text: string, requestedBy: string): Promise<InvestigationOutcome> {
    const extracted = extractIocs(text);
    const observables = extracted.observables;
    if (observables.length === 0) return { kind: 'none', rejected: extracted.rejected };
    if (observables.length > this.opts.maxObservables) {
      throw new ValidationError(
        `That is ${observables.length} observables; I investigate at most ${this.opts.maxObservables} at once (INVESTIGATE_MAX_OBSERVABLES). ` +
          'Split the text into smaller pastes, or use `hunt blog <uri>` for a whole roundup.',
      );
    }
    const calls: XdrCallCounts = { deliberate: 0, observe: 0, refer: 0, respond: 0 };
    const errors: ModuleError[] = [];
    const keyOf = (o: Observable) => `${o.type}:${o.value}`;
    let values: Map<string, Lookup>;
    let fetched: number;
    try {
      ({ values, fetched } = await this.lookups.getMany(observables.map(keyOf), (missing) =>
        this.fetch(missing.map((k) => observables.find((o) => keyOf(o) === k)!), calls, errors),
      ));
    } catch (err) {
      throw xdrFailed(err, observables.length);
    }
    const lookups = observables.map((o) => values.get(keyOf(o))!);
    const verdicts = lookups.flatMap((l) => l.verdicts);
    const sightings = lookups.flatMap((l) => l.sightings);
    const actions = [...lookups.flatMap((l) => l.actions), ...(await this.actionsForTargets(sightings, calls, errors))];
    const offered = await this.opts.desk.offer(actions);
    const report = buildReport({
      observables,
      verdicts,
      sightings,
      links: lookups.flatMap((l) => l.links),
      errors,
      rejected: extracted.rejected,
      truncated: extracted.truncated,
      excludedModules: this.opts.excludedModules,
      cleanRule: this.opts.cleanRule,
      actionsFor: (o): OfferedAction[] => offered.get(offerKey(o)) ?? [],
    });
    await this.addIncidents(report.targets);
    this.log.info({ by: requestedBy, observables: observables.length, fromCache: observables.length - fetched, calls }, 'investigation answered');
    return { kind: 'report', report, calls, fromCache: observables.length - fetched };
  }

  /** Each target's open incident, looked up together (a query each on PostgreSQL). */
  private async addIncidents(targets: TargetView[]): Promise<void> {
    const lookup = this.opts.incidentFor;
    if (!lookup) return;
    await Promise.all(
      targets.map(async (t) => {
        // The report stands without the incident link: a failed lookup is logged, not the analyst's problem.
        const incident = await Promise.resolve()
          .then(() => lookup(t.key))
          .catch((err: unknown) => {
            this.log.warn({ err, target: t.key }, 'could not look up the open incident of a target; the report goes without it');
            return undefined;
          });
        if (incident) t.incident = incident;
      }),
    );
  }

  askAction(offerId: string, by: string) {
    return this.opts.desk.ask(offerId, by).then(({ confirmation, offer }) => ({ confirmationId: confirmation.id, offer }));
  }

  confirmAction(confirmationId: string, by: string) {
    return this.opts.desk.confirm(confirmationId, by);
  }

  cancelAction(confirmationId: string, by: string) {
    return this.opts.desk.cancel(confirmationId, by);
  }

  actions(page: number, pageSize: number) {
    return this.opts.desk.list(page, pageSize);
  }

  /** One pass for observables nobody asked about lately: deliberate, then observe + refer + respond side by side. */
  private async fetch(observables: Observable[], calls: XdrCallCounts, errors: ModuleError[]): Promise<Map<string, Lookup>> {
    const { xdr } = this.opts;
    const deliberation = await xdr.deliberate(observables);
    calls.deliberate += deliberation.calls;
    errors.push(...deliberation.errors);
    const clean = cleanKeys(deliberation.verdicts, this.opts.cleanRule);
    const rest = observables.filter((o) => !clean.has(`${o.type}:${o.value}`));
    const [observation, links, actions] = await Promise.all([
      rest.length > 0 ? xdr.observe(rest) : Promise.resolve({ sightings: [], errors: [], calls: 0 }),
      this.refer(rest, calls, errors),
      this.listActions(rest, calls, errors),
    ]);
    calls.observe += observation.calls;
    errors.push(...observation.errors);
    // Each link's observable, worked out once per link (not once per link per observable).
    const owned = links.map((l) => ({ link: l, owner: linkOwner(l, observables) }));
    const out = new Map<string, Lookup>();
    for (const o of observables) {
      const same = (x: Observable) => x.type === o.type && x.value.toLowerCase() === o.value.toLowerCase();
      out.set(`${o.type}:${o.value}`, {
        observable: o,
        verdicts: deliberation.verdicts.filter((v) => same(v.observable)),
        sightings: observation.sightings.filter((s) => (s.sighting.observables ?? []).some(same)),
        links: owned.filter((x) => x.owner !== undefined && same(x.owner)).map((x) => x.link),
        actions: actions.filter((a) => a.observable && same(a.observable)),
      });
    }
    return out;
  }

  /** Links are extras: a refer failure is reported on the card, not fatal. */
  private async refer(observables: Observable[], calls: XdrCallCounts, errors: ModuleError[]): Promise<ReferLink[]> {
    if (observables.length === 0 || !this.opts.xdr.refer) return [];
    try {
      const { links, calls: n } = await this.opts.xdr.refer(observables);
      calls.refer += n;
      return links;
    } catch (err) {
      errors.push({ module: 'XDR refer', code: 'refer-failed', message: asSightlineError(err).userMessage });
      return [];
    }
  }

  /** respond/observables in batches of XDR_BATCH_SIZE, side by side; a failure leaves the card without those buttons and says so. */
  private async listActions(observables: Observable[], calls: XdrCallCounts, errors: ModuleError[]): Promise<ResponseAction[]> {
    const batches: Observable[][] = [];
    for (let i = 0; i < observables.length; i += this.opts.batchSize) batches.push(observables.slice(i, i + this.opts.batchSize));
    let failed = false;
    const lists = await Promise.all(
      batches.map(async (batch) => {
        calls.respond++;
        try {
          return await this.opts.xdr.listResponseActions(batch);
        } catch (err) {
          if (!failed) errors.push({ module: 'XDR response', code: 'respond-failed', message: asSightlineError(err).userMessage });
          failed = true;
          return [];
        }
      }),
    );
    return lists.flat();
  }

  /** Actions XDR offers for the sighted targets themselves (isolate host…), cached like the rest. */
  private async actionsForTargets(sightings: ModuleSighting[], calls: XdrCallCounts, errors: ModuleError[]): Promise<ResponseAction[]> {
    const { kept } = targetSightings(sightings, { excludedModules: this.opts.excludedModules });
    const identifiers = new Map<string, Observable>();
    for (const t of kept) for (const o of t.target.observables) identifiers.set(`${o.type}:${o.value}`, { type: o.type, value: o.value });
    if (identifiers.size === 0) return [];
    try {
      const { values } = await this.targetActions.getMany([...identifiers.keys()], async (missing) => {
        const found = await this.listActions(missing.map((k) => identifiers.get(k)!), calls, errors);
        return new Map(missing.map((k) => [k, found.filter((a) => a.observable && `${a.observable.type}:${a.observable.value}` === k)]));
      });
      return [...values.values()].flat();
    } catch (err) {
      this.log.warn({ err }, 'listing response actions for targets failed');
      return [];
    }
  }
}

/** XDR failing is told as one sentence with what to do, never a stack trace. */
function xdrFailed(err: unknown, count: number): Error {
  const e = asSightlineError(err);
  if (e.code === 'internal') return e;
  const status = err instanceof UpstreamError ? err.status : undefined;
  return new UpstreamError(
    'XDR',
    `I couldn't look up ${count === 1 ? 'that observable' : `those ${count} observables`} in XDR: ${e.userMessage} Try again in a few minutes.`,
    { status, cause: err },
  );
}
