import type { HuntProgress } from '../domain/hunt/run-hunt.js';
import type { ThreatOutcome } from '../notify/notification.js';
import type { HuntRecord } from '../store/state.js';
import type { Store } from '../store/store.js';

/** Hunt progress kept in the store's hunt record, so a killed hunt resumes where it stopped. */
export class StoreHuntProgress implements HuntProgress {
  constructor(private readonly store: Store, private readonly huntId: string) {}

  private record(): HuntRecord | undefined {
    return this.store.get().hunts.find((h) => h.id === this.huntId);
  }

  threatsDone(): string[] {
    return [...(this.record()?.threatsDone ?? [])];
  }

  casebookOf(threat: string): string | undefined {
    return this.record()?.casebooks[threat];
  }

  earlierOutcomes(): ThreatOutcome[] {
    return (this.record()?.outcomes ?? []) as ThreatOutcome[];
  }

  async markThreatDone(threat: string, outcome: ThreatOutcome): Promise<void> {
    await this.store.update((s) => {
      const h = s.hunts.find((x) => x.id === this.huntId);
      if (!h) return;
      if (!h.threatsDone.includes(threat)) h.threatsDone.push(threat);
      if (outcome.casebook) h.casebooks[threat] = outcome.casebook.id;
      h.outcomes ??= [];
      // Keep the summary small: targets are trimmed to what the final report shows.
      h.outcomes.push({ ...outcome, targets: outcome.targets.slice(0, 50) });
    });
  }
}

/** In-memory progress for one-shot CLI hunts, which never touch the bot's state. */
export class MemoryHuntProgress implements HuntProgress {
  private readonly done: string[] = [];
  private readonly outcomes: ThreatOutcome[] = [];
  threatsDone(): string[] {
    return [...this.done];
  }
  casebookOf(): string | undefined {
    return undefined;
  }
  earlierOutcomes(): ThreatOutcome[] {
    return [];
  }
  async markThreatDone(threat: string, outcome: ThreatOutcome): Promise<void> {
    this.done.push(threat);
    this.outcomes.push(outcome);
  }
}
