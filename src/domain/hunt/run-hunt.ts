import type { XdrPort } from '../ports/xdr.js';
import type { Logger } from '../../core/logger.js';
import type { HuntRef, Notifier, ThreatOutcome } from '../../notify/notification.js';
import type { Clock } from '../../core/clock.js';
import type { Roundup, Threat } from '../types.js';
import { draftCasebook } from './casebook.js';
import { createOnce } from './create-once.js';
import { draftHuntIncident, fileHuntIncident } from './hunt-incident.js';
import { investigateThreat } from './investigate-threat.js';
import type { CleanRule } from './verdicts.js';

/**
 * Where a hunt keeps its progress, so a hunt killed mid-run resumes: threats
 * already done are skipped and casebooks already made are reused.
 */
export interface HuntProgress {
  threatsDone(): string[];
  casebookOf(threat: string): string | undefined;
  markThreatDone(threat: string, outcome: ThreatOutcome): Promise<void>;
  /** Outcomes of threats done in an earlier run of the same hunt, for the final summary. */
  earlierOutcomes(): ThreatOutcome[];
}

export interface HuntDeps {
  xdr: XdrPort;
  notifier: Notifier;
  progress: HuntProgress;
  clock: Clock;
  logger: Logger;
  excludedModules: string[];
  cleanRule: CleanRule;
  casebookUrl: (longId: string) => string;
  /** HUNT_XDR_OUTPUT: what a threat with targets files in XDR (default casebook). */
  xdrOutput?: 'casebook' | 'incident' | 'both';
  incidentUrl?: (longId: string) => string;
  signal?: AbortSignal;
}

/**
 * One hunt of one roundup, threat by threat, in the blog's order. A failure in
 * one threat is reported in its outcome and the hunt goes on with the next.
 */
export async function runHunt(roundup: Roundup, hunt: HuntRef, deps: HuntDeps): Promise<ThreatOutcome[]> {
  const started = deps.clock.now().getTime();
  const callsBefore = deps.xdr.callCount;
  const done = new Set(deps.progress.threatsDone());
  const log = deps.logger.child({ hunt: hunt.id });
  if (done.size === 0) {
    await deps.notifier.notify({
      kind: 'hunt_started',
      hunt,
      publicationDate: roundup.publicationDate,
      threats: roundup.threats.map((t) => ({
        name: t.name,
        description: t.description,
        observableCount: t.observables.length,
        rejectedCount: t.rejected.length,
      })),
    });
  } else {
    log.info({ done: [...done] }, 'resuming hunt: skipping threats already done');
  }

  // Threats are investigated concurrently (the XDR client bounds the calls in flight for the whole
  // process), so a roundup costs about calls × latency ÷ XDR_CONCURRENCY instead of a sum of per-threat
  // round trips. Results are still reported and recorded in the blog's order.
  const pending = roundup.threats.filter((t) => !done.has(t.name));
  const investigations = pending.map((threat) => investigateAndFile(threat, hunt, deps));
  // Nothing may reject unobserved while earlier threats are being reported.
  for (const p of investigations) p.catch(() => undefined);
  const outcomes: ThreatOutcome[] = [...deps.progress.earlierOutcomes()];
  for (const [i, threat] of pending.entries()) {
    deps.signal?.throwIfAborted();
    const outcome = await investigations[i]!;
    if (!outcome.error) {
      await deps.notifier.notify(
        outcome.targets.length > 0 ? { kind: 'threat_targets', hunt, threat: outcome } : { kind: 'threat_no_targets', hunt, threat: outcome },
      );
    }
    outcomes.push(outcome);
    await deps.progress.markThreatDone(threat.name, outcome);
  }

  await deps.notifier.notify({
    kind: 'hunt_finished',
    hunt,
    threats: outcomes,
    xdrCalls: deps.xdr.callCount - callsBefore,
    durationMs: deps.clock.now().getTime() - started,
  });
  return outcomes;
}

/** Finds the casebook an earlier (interrupted) run made, by its external id, or creates it. */
async function ensureCasebook(xdr: XdrPort, draft: ReturnType<typeof draftCasebook>, clock: Clock): Promise<string> {
  const externalId = draft.external_ids[0];
  const casebook = await createOnce(clock, async () => (externalId ? await xdr.findCasebookByExternalId(externalId) : undefined) ?? (await xdr.createCasebook(draft)));
  return casebook.id;
}

/** Investigates one threat and, when it has targets, files its casebook. Failures become the outcome's error. */
async function investigateAndFile(threat: Threat, hunt: HuntRef, deps: HuntDeps): Promise<ThreatOutcome> {
  try {
    const inv = await investigateThreat(threat, deps.xdr, {
      excludedModules: deps.excludedModules,
      cleanRule: deps.cleanRule,
      signal: deps.signal,
    });
    const outcome: ThreatOutcome = { ...inv.outcome, ...(threat.link ? { link: threat.link } : {}) };
    const output = deps.xdrOutput ?? 'casebook';
    if (inv.targets.length > 0 && !hunt.dryRun && output !== 'incident') {
      const id = deps.progress.casebookOf(threat.name) ?? (await ensureCasebook(deps.xdr, draftCasebook(threat, inv.suspicious, inv.targets, hunt.label), deps.clock));
      outcome.casebook = { id, url: deps.casebookUrl(id) };
    }
    if (inv.targets.length > 0 && !hunt.dryRun && output !== 'casebook') {
      const draft = draftHuntIncident({
        threat,
        suspicious: inv.suspicious,
        targets: inv.targets,
        verdicts: inv.verdicts,
        huntKey: hunt.label,
        now: deps.clock.now().toISOString(),
      });
      const id = await fileHuntIncident(deps.xdr, deps.clock, draft, { threat, targets: inv.targets, ...(outcome.casebook ? { casebookId: outcome.casebook.id } : {}) });
      outcome.incident = { id, url: deps.incidentUrl?.(id) ?? id };
    }
    return outcome;
  } catch (err) {
    if (deps.signal?.aborted) throw err;
    deps.logger.error({ err, hunt: hunt.id, threat: threat.name }, 'threat investigation failed');
    return {
      name: threat.name,
      description: threat.description,
      observables: threat.observables.length,
      clean: 0,
      investigated: 0,
      rejected: threat.rejected.length,
      targets: [],
      moduleErrors: [],
      error: (err as { userMessage?: string }).userMessage ?? (err as Error).message,
    };
  }
}
