import { ConfigError } from '../../core/errors.js';

/**
 * The response-action ladder (seeds.md §1.8, §5). The seed had three empty
 * placeholder branches `>= 5`, `>= 3`, `== 2`, evaluated in that order with the
 * first match winning, and only on update. Here each rung has real actions, is
 * evaluated on every sighting, and fires at most once per incident.
 *
 * Syntax (CORRELATION_LADDER): `<op> <n> -> <action>[, <action>…]; …`
 * with op `eq` | `gte` (also `==` / `>=`), actions `notify`, `mention`, `respond`, `webhook`.
 */
export const LADDER_ACTIONS = ['notify', 'mention', 'respond', 'webhook'] as const;
export type LadderAction = (typeof LADDER_ACTIONS)[number];

export interface Rung {
  /** Canonical label, e.g. "gte 3"; what the incident records as fired. */
  label: string;
  op: 'eq' | 'gte';
  threshold: number;
  actions: LadderAction[];
}

export interface LadderContext {
  /** CORRELATION_WEBHOOK_URL: required when any rung uses `webhook`. */
  webhookUrl?: string | undefined;
}

const OPS: Record<string, Rung['op']> = { eq: 'eq', '==': 'eq', '=': 'eq', gte: 'gte', '>=': 'gte' };

/**
 * Parses the ladder and returns its rungs in EVALUATION order: highest threshold
 * first (`eq` before `gte` on a tie) — the seed's `>= 5`, `>= 3`, `== 2` order —
 * whatever order the operator wrote them in. Throws a ConfigError naming the variable.
 */
export function parseLadder(spec: string, ctx: LadderContext = {}): Rung[] {
  const problems: string[] = [];
  const rungs: Rung[] = [];
  const parts = spec.split(';').map((p) => p.trim()).filter(Boolean);
  for (const part of parts) {
    const m = /^(\S+)\s*(\d+)\s*->\s*(.+)$/.exec(part);
    const op = m ? OPS[m[1]!.toLowerCase()] : undefined;
    if (!m || !op) {
      problems.push(`CORRELATION_LADDER rung "${part}" is not "<eq|gte> <count> -> <action>[, <action>]" (e.g. "gte 3 -> mention")`);
      continue;
    }
    const threshold = Number(m[2]);
    if (threshold < 1) problems.push(`CORRELATION_LADDER rung "${part}" needs a count of at least 1`);
    const actions: LadderAction[] = [];
    for (const raw of m[3]!.split(',').map((a) => a.trim().toLowerCase()).filter(Boolean)) {
      if (!(LADDER_ACTIONS as readonly string[]).includes(raw)) {
        problems.push(`CORRELATION_LADDER rung "${part}" has unknown action "${raw}" (use ${LADDER_ACTIONS.join(', ')})`);
      } else if (!actions.includes(raw as LadderAction)) actions.push(raw as LadderAction);
    }
    if (actions.includes('webhook') && !ctx.webhookUrl)
      problems.push(`CORRELATION_LADDER rung "${part}" uses webhook, so CORRELATION_WEBHOOK_URL must be set`);
    const label = `${op} ${threshold}`;
    if (rungs.some((r) => r.label === label)) problems.push(`CORRELATION_LADDER has "${label}" twice; merge its actions with ","`);
    rungs.push({ label, op, threshold, actions });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return rungs.sort((a, b) => b.threshold - a.threshold || (a.op === b.op ? 0 : a.op === 'eq' ? -1 : 1));
}

export function rungMatches(rung: Rung, count: number): boolean {
  return rung.op === 'eq' ? count === rung.threshold : count >= rung.threshold;
}

/**
 * The rung to fire for this count: the FIRST matching rung in evaluation order
 * wins (as in the seed), and nothing fires when that rung already fired for this
 * incident — so count 6 after `gte 5` fired does not fall through to `gte 3`.
 */
export function rungToFire(count: number, rungs: readonly Rung[], alreadyFired: readonly string[]): Rung | undefined {
  const first = rungs.find((r) => rungMatches(r, count));
  if (!first || alreadyFired.includes(first.label)) return undefined;
  return first;
}
