import { z } from 'zod';
import { correlationStateSchema, incidentSchema } from '../domain/correlation/state-schema.js';
import { modulesStateSchema } from '../modules/state.js';

/**
 * The whole state file as the code relies on it (state.ts), checked once at start-up
 * (issue 17 item 8): `"correlation":{"incidents":null}` once started, served 202s and
 * failed every XDR pass. Missing sections are fine (they start empty); a section or field
 * of the wrong shape stops start-up, naming its path. Objects are loose, so a section or
 * field written by a newer version does not.
 */
const hunt = z.looseObject({
  id: z.string(),
  trigger: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  status: z.enum(['running', 'finished', 'failed', 'not_published']),
  threatsDone: z.array(z.string()),
  casebooks: z.record(z.string(), z.string()),
});

const outboxItem = z.looseObject({
  id: z.string(),
  channel: z.string(),
  key: z.string(),
  createdAt: z.string(),
  attempts: z.number(),
  nextAttemptAt: z.string(),
});

export const stateSchema = z.looseObject({
  version: z.literal(1),
  talos: z
    .looseObject({
      cursorUrlId: z.number().optional(),
      lastHuntedWeek: z.string().optional(),
      pendingRetry: z.looseObject({ week: z.string(), attempt: z.number(), nextAttemptAt: z.string() }).optional(),
      scheduleArmedAt: z.string().optional(),
    })
    .optional(),
  hunts: z.array(hunt).optional(),
  rooms: z.record(z.string(), z.string()).optional(),
  outbox: z.array(outboxItem).optional(),
  outboxKeys: z.array(z.string()).optional(),
  correlation: correlationStateSchema.optional(),
  modules: modulesStateSchema.optional(),
});

/** Where the state is not what the code expects, as `path: problem` lines (at most `max`); empty when it is. */
export function stateProblems(value: unknown, max = 5): string[] {
  // Incidents are checked one at a time: zod builds a checked copy of what it parses, and a copy of
  // 10,000 incidents at once doubled the heap at start-up (which V8 then kept: issue 14).
  const split = splitIncidents(value);
  const result = stateSchema.safeParse(split?.rest ?? value);
  const problems = result.success ? [] : result.error.issues.map((issue) => `${pathOf(issue.path)}: ${describe(issue)}`);
  for (const [id, inc] of split ? Object.entries(split.incidents) : []) {
    if (problems.length >= max) break;
    const checked = incidentSchema.safeParse(inc);
    if (!checked.success) problems.push(...checked.error.issues.map((issue) => `${pathOf(['correlation', 'incidents', id, ...issue.path])}: ${describe(issue)}`));
  }
  return problems.slice(0, max);
}

/** The state with its incidents taken out (when they are a map of them), and the incidents. */
function splitIncidents(value: unknown): { rest: unknown; incidents: Record<string, unknown> } | undefined {
  const correlation = (value as { correlation?: unknown } | null)?.correlation;
  const incidents = (correlation as { incidents?: unknown } | null | undefined)?.incidents;
  if (typeof incidents !== 'object' || incidents === null || Array.isArray(incidents)) return undefined;
  return { rest: { ...(value as object), correlation: { ...(correlation as object), incidents: {} } }, incidents: incidents as Record<string, unknown> };
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '') || '(top level)';
}

function describe(issue: z.core.$ZodIssue): string {
  // zod 4's "Invalid input: expected object, received null" is already a sentence an operator reads.
  return issue.message.replace(/^Invalid input: /, '');
}
