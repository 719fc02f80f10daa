/**
 * Start-up check of the V8 heap cap against what the state needs (issue 14).
 *
 * `npm start` caps the heap at SIGHTLINE_MAX_HEAP_MB (`--max-old-space-size`), so V8
 * collects garbage before the process outgrows a 512 MB container instead of growing
 * its heap to gigabytes first. A cap too small for the state would end the process with
 * V8's "heap out of memory" and, under a supervisor, restart it into the same end: these
 * sentences are logged before the state is loaded, so the last lines before such a crash
 * say what to raise.
 */

/** Heap a loaded state needs per byte of its file (measured: ~3 at 10,000 incidents, after interning), plus room for work. */
export const HEAP_PER_STATE_BYTE = 3.5;
/** Heap the process uses before any state: code, the Webex SDK, buffers (measured idle at an empty store, built). */
export const BASE_HEAP_MB = 60;
/** V8 adds its young generation (3 × 16 MB semi-spaces on 64-bit) to the old-space cap in heap_size_limit. */
const YOUNG_GENERATION_MB = 48;

export interface HeapBudgetInput {
  /** v8.getHeapStatistics().heap_size_limit */
  heapLimitBytes: number;
  /** SIGHTLINE_MAX_HEAP_MB */
  configuredMb: number;
  /** Size of the state file on disk; 0 when there is none yet. */
  stateBytes: number;
}

export interface HeapBudget {
  /** The old-space cap this process runs with (MB). */
  capMb: number;
  /** What the state is expected to need (MB). */
  neededMb: number;
  /** Sentences for the operator (warn level); empty when all is well. */
  warnings: string[];
  /** Set when the process runs without the configured cap (e.g. `npm run dev`): worth an info line, not a warning. */
  uncapped?: string;
}

/** What to set SIGHTLINE_MAX_HEAP_MB to for a state file of this size: the need plus a quarter (floods, snapshots), in 64 MB steps. */
export function suggestedHeapMb(stateBytes: number): number {
  const neededMb = BASE_HEAP_MB + (stateBytes / (1024 * 1024)) * HEAP_PER_STATE_BYTE;
  return Math.ceil((Math.ceil(neededMb) * 1.25) / 64) * 64;
}

export function heapBudget(input: HeapBudgetInput): HeapBudget {
  const mb = 1024 * 1024;
  const capMb = Math.max(1, Math.round(input.heapLimitBytes / mb) - YOUNG_GENERATION_MB);
  const stateMb = input.stateBytes / mb;
  const neededMb = Math.ceil(BASE_HEAP_MB + stateMb * HEAP_PER_STATE_BYTE);
  const warnings: string[] = [];
  if (neededMb > capMb) {
    const raise = suggestedHeapMb(input.stateBytes);
    warnings.push(
      `The state file is ${Math.round(stateMb)} MB and needs about ${neededMb} MB of heap, more than the ${capMb} MB this process may use: ` +
        `Sightline may stop with "JavaScript heap out of memory". Raise SIGHTLINE_MAX_HEAP_MB to ${raise} (and the container's memory to about ${raise + 192} MB), ` +
        'or close and prune incidents.',
    );
  }
  const howToApply =
    'the setting is applied by `npm start` and `sightline start` from the environment (not from .env); ' +
    `started another way, pass \`node --max-old-space-size=${input.configuredMb}\` yourself`;
  let uncapped: string | undefined;
  if (capMb < input.configuredMb * 0.9) {
    warnings.push(`This process runs with a ${capMb} MB heap cap, less than SIGHTLINE_MAX_HEAP_MB=${input.configuredMb}: ${howToApply}.`);
  } else if (capMb > input.configuredMb * 1.1 + 16) {
    uncapped = `This process runs with a ${capMb} MB heap cap, not SIGHTLINE_MAX_HEAP_MB=${input.configuredMb} (fine for development; in a container it lets the heap outgrow the container): ${howToApply}.`;
  }
  return { capMb, neededMb, warnings, ...(uncapped ? { uncapped } : {}) };
}
