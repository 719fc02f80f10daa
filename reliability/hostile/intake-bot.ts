import type { App } from '../../src/app.js';
import type { IntakeTarget } from './intake.js';

/** The in-process app as the intake checks see it. */
export function intakeTarget(app: App): IntakeTarget {
  return {
    url: app.http.url,
    stateFile: app.config.stateFile,
    idle: async () => {
      await app.intake.idle();
      await app.engine.flushCoalesced();
    },
    stateBytes: () => JSON.stringify(app.store.get()).length,
  };
}
