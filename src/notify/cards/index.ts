import type { Notification } from '../notification.js';
import { renderDigest } from './digest.js';
import { renderHuntFinished } from './hunt-finished.js';
import { renderHuntFailed, renderNotPublished } from './hunt-problems.js';
import { renderHuntStarted } from './hunt-started.js';
import { renderTalosNothingNew } from './talos-nothing-new.js';
import { renderIncidentCard, renderIncidentClosed, renderIncidentCountUpdate } from './incident.js';
import type { WebexMessageContent } from './limits.js';
import { renderRungFired } from './rung.js';
import { renderTargetFound } from './target-found.js';
import { renderRemainingTargets, renderThreatNoTargets } from './threat-results.js';

export { renderAlreadyClosed, renderHelp, renderHuntStatus, renderIncidentList } from './commands.js';
export { MAX_CARD_BYTES, MAX_TEXT_BYTES } from './limits.js';
export type { WebexMessageContent } from './limits.js';

export interface WebexRendering extends WebexMessageContent {
  /** Post as a threaded reply to this message. */
  parentId?: string;
}

export interface RenderOptions {
  /**
   * Targets of one threat that each get their own card; the rest share one
   * summary message. A roundup hitting 300 machines should not post 300 cards.
   */
  maxTargetCards?: number;
}

export const DEFAULT_MAX_TARGET_CARDS = 25;

/** Turns one notification into the Webex messages to post, in order. */
export function renderForWebex(n: Notification, opts: RenderOptions = {}): WebexRendering[] {
  switch (n.kind) {
    case 'hunt_started':
      return [renderHuntStarted(n)];
    case 'threat_targets': {
      const max = opts.maxTargetCards ?? DEFAULT_MAX_TARGET_CARDS;
      const carded = n.threat.targets.slice(0, max);
      const rest = n.threat.targets.slice(max);
      const out: WebexRendering[] = carded.map((target) =>
        renderTargetFound({ hunt: n.hunt, threat: n.threat, target, casebook: n.threat.casebook, incident: n.threat.incident }),
      );
      if (rest.length > 0) out.push(renderRemainingTargets(n.hunt, n.threat, rest));
      return out;
    }
    case 'threat_no_targets':
      return [renderThreatNoTargets(n.hunt, n.threat)];
    case 'hunt_finished':
      return [renderHuntFinished(n)];
    case 'not_published':
      return [renderNotPublished(n)];
    case 'talos_nothing_new':
      return [renderTalosNothingNew(n)];
    case 'hunt_failed':
      return [renderHuntFailed(n)];
    case 'incident_opened':
      return [renderIncidentCard(n.incident, 'opened')];
    case 'incident_updated':
      // With the first card's id known, a short threaded reply keeps the room readable.
      if (n.replyTo) return [{ ...renderIncidentCountUpdate(n.incident, n.newSightings, n.crossed), parentId: n.replyTo }];
      return [renderIncidentCard(n.incident, 'updated', n.crossed)];
    case 'incident_closed':
      return [renderIncidentClosed(n.incident, n.by, n.reason)];
    case 'rung_fired':
      return [renderRungFired(n)];
    case 'incident_digest':
      return renderDigest(n);
  }
}
