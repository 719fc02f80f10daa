import type { Logger } from '../core/logger.js';
import { forgetIncidentTexts, keepIncidentTexts } from '../domain/correlation/incident-json.js';
import { startIdleGc } from '../observability/idle-gc.js';
import type { Capability } from './capability.js';

/**
 * Returns the garbage of loading the state, and of a flood once it is over, while the process
 * is quiet (issue 14), and the state writer's cached incident texts with it (kept again once it is busy). Started last, once everything else runs; halted first on shutdown.
 */
export function idleCollection(log: Logger): Capability {
  let running: { stop(): void } | undefined;
  return {
    name: 'idle-gc',
    start: () => {
      running = startIdleGc({ logger: log, onQuiet: forgetIncidentTexts, onBusy: keepIncidentTexts });
    },
    halt: () => running?.stop(),
  };
}
