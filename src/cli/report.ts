import type { ThreatOutcome } from '../notify/notification.js';

/** A plain-text hunt report for the terminal. */
export function formatHuntReport(source: string, outcomes: ThreatOutcome[], xdrCalls: number, dryRun: boolean): string {
  const lines = [`Talos roundup ${source}${dryRun ? ' (dry run: no casebooks, no e-mail)' : ''}`, ''];
  for (const o of outcomes) {
    lines.push(`■ ${o.name}`);
    lines.push(`  ${o.observables} observables: ${o.clean} Clean dropped, ${o.investigated} investigated; ${o.rejected} value(s) rejected while parsing`);
    if (o.error) lines.push(`  ✗ failed: ${o.error}`);
    else if (o.targets.length === 0) lines.push(`  no targets found for ${o.name}`);
    for (const t of o.targets) {
      lines.push(`  → target ${t.identifiers.map((i) => `${i.type}=${i.value}`).join(' ')} seen by ${t.modules.join(', ')}: ${t.observables.map((x) => x.value).join(', ')} (last ${t.lastSeen ?? '?'})`);
    }
    if (o.casebook) lines.push(`  casebook ${o.casebook.id} ${o.casebook.url}`);
    if (o.incident) lines.push(`  incident ${o.incident.id} ${o.incident.url}`);
    for (const e of o.moduleErrors) lines.push(`  ! module error: ${e}`);
    lines.push('');
  }
  const targets = outcomes.reduce((n, o) => n + o.targets.length, 0);
  lines.push(`${outcomes.length} threats, ${targets} target(s), ${xdrCalls} XDR call(s).`);
  return lines.join('\n');
}
