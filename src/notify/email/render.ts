import type { TargetFinding } from '../../domain/types.js';
import { formatDuration } from '../cards/hunt-finished.js';
import { NOT_PUBLISHED_TODO, notPublishedSentence } from '../cards/hunt-problems.js';
import { NOTHING_NEW_TODO, nothingNewSentence } from '../cards/talos-nothing-new.js';
import type { HuntRef, Notification, ThreatOutcome, ThreatSummary } from '../notification.js';
import { mail, type Block, type Inline, type RenderedEmail } from './document.js';
import { renderDigestMail } from './digest-mail.js';
import { renderIncidentClosedMail, renderIncidentMail, renderRungFiredMail } from './incident-mails.js';

export type { RenderedEmail } from './document.js';

/** Observables listed per target in an e-mail; the casebook holds the rest. */
export const MAX_OBSERVABLES_PER_TARGET = 100;

function dry(hunt: HuntRef): string {
  return hunt.dryRun ? '[dry run] ' : '';
}

/** The e-mail for one notification, or undefined for kinds that have none. */
export function renderEmail(n: Notification): RenderedEmail | undefined {
  switch (n.kind) {
    case 'hunt_started':
      return huntStarted(n.hunt, n.threats, n.publicationDate);
    case 'threat_targets':
      return threatTargets(n.hunt, n.threat);
    case 'threat_no_targets':
      return mail(`${dry(n.hunt)}No Targets found - Threat ${n.threat.name}`, [
        { p: ['No targets associated with the IOCs related to the threat ', { b: n.threat.name }, ` have been found in your environment (${n.hunt.label}).`] },
        { facts: verdictFacts(n.threat) },
      ]);
    case 'hunt_finished':
      return huntFinished(n.hunt, n.threats, n.xdrCalls, n.durationMs);
    case 'not_published':
      return mail('Talos Roundup not published', [
        { p: [notPublishedSentence(n.week, n.attempts, ''), { link: n.uri, url: n.uri }] },
        { p: [NOT_PUBLISHED_TODO] },
      ]);
    case 'talos_nothing_new':
      return mail('Nothing new from Talos this week', [{ p: [nothingNewSentence(n.week, n.sources)] }, { p: [NOTHING_NEW_TODO] }]);
    case 'hunt_failed': {
      const what = n.hunt?.label ?? n.week ?? 'this week';
      return mail(`${n.hunt ? dry(n.hunt) : ''}Talos Roundup Investigation failed - ${what}`, [
        { p: [`The Talos Roundup investigation for ${what} failed: `, { b: n.error }] },
        { facts: [['Hunt id', n.hunt ? [n.hunt.id] : undefined], ['Source', n.hunt ? [{ link: n.hunt.uri, url: n.hunt.uri }] : undefined]] },
        { p: ['Run "hunt now" in the Webex room to try again, or "hunt status" to see what is running.'] },
      ]);
    }
    case 'incident_opened':
      return renderIncidentMail(n.incident, 'opened', []);
    case 'incident_updated':
      return renderIncidentMail(n.incident, 'updated', n.crossed, n.newSightings);
    case 'incident_closed':
      return renderIncidentClosedMail(n.incident, n.by, n.reason);
    case 'rung_fired':
      return renderRungFiredMail(n);
    case 'incident_digest':
      return renderDigestMail(n);
  }
}

function huntStarted(hunt: HuntRef, threats: ThreatSummary[], publicationDate?: string): RenderedEmail {
  const published = publicationDate ? ` (publish date ${publicationDate})` : '';
  const blocks: Block[] = [
    { p: [{ b: '*** This is an informational message ***' }] },
    {
      p: [
        `Weekly Talos Roundup automated investigation has started for ${hunt.label} (${threats.length} threats have been reported in the roundup). ` +
          'More information will follow during the investigation.',
      ],
    },
    { p: [`Talos has published IOCs related to the following most prevalent threats observed during this week${published}:`] },
  ];
  for (const t of threats) {
    blocks.push({ h: t.name });
    blocks.push({
      facts: [
        ['Threat Name', [{ b: t.name }]],
        ['Threat Description', t.description ? [{ i: t.description }] : undefined],
        ['IOCs to investigate', [String(t.observableCount)]],
        ['Rejected values', t.rejectedCount > 0 ? [String(t.rejectedCount)] : undefined],
      ],
    });
  }
  blocks.push({ p: ['Source: ', { link: hunt.uri, url: hunt.uri }] });
  return mail(`${dry(hunt)}Talos Roundup Investigation started`, blocks);
}

function threatTargets(hunt: HuntRef, threat: ThreatOutcome): RenderedEmail {
  const blocks: Block[] = [
    {
      p: [
        `Sightline has found ${threat.targets.length} target(s) in your environment related to the threat `,
        { b: threat.name },
        ` (${hunt.label}).`,
      ],
    },
  ];
  if (threat.description) blocks.push({ p: ['Threat description: ', { i: threat.description }] });
  if (threat.casebook || !threat.incident) {
    blocks.push(
      threat.casebook
        ? { p: ['A summary casebook has been created in XDR: ', { link: threat.casebook.id, url: threat.casebook.url }] }
        : { p: ['No casebook was created for this threat (dry run or XDR refused it); the details are below.'] },
    );
  }
  if (threat.incident) blocks.push({ p: ['An incident is in the XDR incident queue: ', { link: threat.incident.id, url: threat.incident.url }] });
  threat.targets.forEach((t, i) => blocks.push(...targetBlocks(t, i + 1, threat.targets.length, threat.casebook !== undefined)));
  return mail(`${dry(hunt)}Found targets - ${threat.name}`, blocks);
}

function targetBlocks(t: TargetFinding, index: number, total: number, hasCasebook: boolean): Block[] {
  const shown = t.observables.slice(0, MAX_OBSERVABLES_PER_TARGET);
  const more = t.observables.length - shown.length;
  const observables: Inline[][] = shown.map((o) => [`${o.type}: `, { code: o.value }]);
  if (more > 0) observables.push([`and ${more} more${hasCasebook ? ' (all of them are in the casebook)' : ''}`]);
  return [
    { h: `Target ${index} of ${total}: ${t.identifiers[0]?.value ?? t.key}` },
    {
      facts: [
        ['Identifiers', joinInline(t.identifiers.map((o) => [`${o.type} `, { code: o.value }]))],
        ['Target type', [t.type]],
        ['Seen by modules', [t.modules.join(', ')]],
        ['First seen', t.firstSeen ? [t.firstSeen] : undefined],
        ['Last seen', t.lastSeen ? [t.lastSeen] : undefined],
        // Source URIs come from the modules: shown as (defanged) text, not links.
        ['Sighting sources', t.sourceUris.length > 0 ? joinInline(t.sourceUris.map((u) => [u])) : undefined],
      ],
    },
    { p: [`Observables sighted on this target (${t.observables.length}):`] },
    { ul: observables },
  ];
}

function joinInline(items: Inline[][]): Inline[] {
  return items.flatMap((item, i) => (i === 0 ? item : [', ', ...item]));
}

function verdictFacts(t: ThreatOutcome): [string, Inline[] | undefined][] {
  return [
    ['Observables', [String(t.observables)]],
    ['Clean dropped', [String(t.clean)]],
    ['Rejected', [String(t.rejected)]],
    ['Module errors', t.moduleErrors.length > 0 ? [t.moduleErrors.join('; ')] : undefined],
  ];
}

function huntFinished(hunt: HuntRef, threats: ThreatOutcome[], xdrCalls: number, durationMs: number): RenderedEmail {
  const targets = threats.reduce((n, t) => n + t.targets.length, 0);
  const rows: Inline[][][] = threats.map((t) => [
    t.link ? [{ b: t.name }, ' (', { link: 'blog post', url: t.link }, ')'] : [{ b: t.name }],
    [String(t.observables)],
    [String(t.clean)],
    [String(t.rejected)],
    t.error ? [`failed: ${t.error}`] : t.targets.length === 0 ? [`0 — no targets found for ${t.name}`] : [{ b: String(t.targets.length) }],
    t.casebook ? [{ link: t.casebook.id, url: t.casebook.url }] : ['—'],
  ]);
  return mail(`${dry(hunt)}Talos Roundup Investigation finished - ${hunt.label}`, [
    {
      p: [
        `The Talos Roundup investigation for ${hunt.label} has finished: ${threats.length} threats, `,
        { b: `${targets} target(s) found` },
        `. ${xdrCalls} XDR calls in ${formatDuration(durationMs)}.`,
      ],
    },
    { table: { head: ['Threat', 'Observables', 'Clean dropped', 'Rejected', 'Targets', 'Casebook'], rows } },
    { p: ['Source: ', { link: hunt.uri, url: hunt.uri }] },
  ]);
}
