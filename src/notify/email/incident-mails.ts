import type { IncidentView, Notification } from '../notification.js';
import { firedAtText } from '../cards/rung.js';
import { mail, type Block, type Inline, type RenderedEmail } from './document.js';

function incidentFacts(i: IncidentView, crossed: string[]): Block {
  const thresholds = [...new Set([...crossed, ...i.rungsFired])];
  const text = (v: string | undefined): Inline[] | undefined => (v ? [v] : undefined);
  return {
    facts: [
      ['Target', [`${i.targetType}: `, { b: i.targetValue }]],
      ['Current number of security events', [{ b: String(i.count) }]],
      ['Indicator observed', i.lastIoc ? [`${i.lastIoc.type}: `, { code: i.lastIoc.value }] : undefined],
      ['Event observed by', text(i.lastSource)],
      ['First seen', text(i.firstSeen)],
      ['Last seen', text(i.lastSeen)],
      ['Status', text(i.status)],
      ['Thresholds crossed', thresholds.length > 0 ? [thresholds.join(', ')] : undefined],
      ['Follows closed incident', text(i.previousId)],
      ['Review details here', i.url ? [{ link: i.id, url: i.url }] : [i.id]],
    ],
  };
}

export function renderIncidentMail(i: IncidentView, mode: 'opened' | 'updated', crossed: string[], newSightings?: number): RenderedEmail {
  const subject = mode === 'opened' ? `New correlated incident for target: ${i.targetValue}` : `Incident updated for target: ${i.targetValue}`;
  const intro: Inline[] =
    mode === 'opened'
      ? ['A new incident was opened because target ', { b: i.targetValue }, ' had a security event.']
      : ['Target ', { b: i.targetValue }, ` had ${newSightings ?? 0} more security event(s).`];
  return mail(subject, [{ p: intro }, incidentFacts(i, crossed), { p: ['Close it from the Webex incidents room with the "Close incident" button.'] }]);
}

export function renderIncidentClosedMail(i: IncidentView, by: string, reason?: string): RenderedEmail {
  return mail(`Incident closed for target: ${i.targetValue}`, [
    { p: ['The incident for target ', { b: i.targetValue }, ` was closed by ${by}${reason ? `: ${reason}` : '.'}`] },
    incidentFacts(i, []),
    { p: ['A new sighting on this target opens a new incident.'] },
  ]);
}

export function renderRungFiredMail(n: Extract<Notification, { kind: 'rung_fired' }>): RenderedEmail {
  const i = n.incident;
  return mail(`${n.dryRun ? '[dry run] ' : ''}Escalation ${n.rung} for target: ${i.targetValue}`, [
    {
      p: [
        'Target ',
        { b: i.targetValue },
        ` reached escalation rung "${n.rung}" ${firedAtText(i, n.firedAtCount)}. Action: `,
        { b: n.action },
        n.dryRun ? ' (dry run: nothing was changed).' : '.',
      ],
    },
    ...(n.outcome ? [{ p: ['Outcome: ', n.outcome] }] : []),
    incidentFacts(i, [n.rung]),
  ]);
}
