import type { IncidentDigest } from '../notification.js';
import { mail, type RenderedEmail } from './document.js';

const num = (n: number) => n.toLocaleString('en-US');

/** The storm digest as e-mail: the same incidents and counts the incidents room gets. */
export function renderDigestMail(d: IncidentDigest): RenderedEmail {
  if (d.phase === 'ended') {
    return mail('Alert storm over', [{ p: ['The alert storm is over: each new incident gets its own message again. Run "incidents" in the Webex room to list every open incident.'] }]);
  }
  const total = d.top.length + d.more;
  const subject = `${d.phase === 'started' ? 'Alert storm' : 'Storm digest'}: ${num(total)} incidents (${num(d.newIncidents)} new, ${num(d.updatedIncidents)} updated)`;
  return mail(subject, [
    ...(d.phase === 'started' ? [{ p: ['More incident news than can be sent one by one: a digest follows at most once a minute until it calms down.'] }] : []),
    {
      table: {
        head: ['Target', 'Security events', 'Last seen'],
        rows: d.top.map((i) => [[`${i.targetType}: `, { b: i.targetValue }], [String(i.count)], [i.lastSeen]]),
      },
    },
    ...(d.more > 0 ? [{ p: [`and ${num(d.more)} more: run "incidents" in the Webex room to list them.`] }] : []),
    ...(d.escalations.length > 0
      ? [{ ul: d.escalations.map((e) => [{ b: e.rung }, ` → ${e.action}${e.dryRun ? ' (dry run)' : ''}: ${num(e.incidents)} incidents`]) }]
      : []),
  ]);
}
