import type { Observable, TargetFinding, Threat } from '../types.js';

/** Casebook content for one threat with targets: the non-Clean observables and a readable summary. */
export interface CasebookDraft {
  title: string;
  description: string;
  observables: Observable[];
  external_ids: string[];
  texts: { type: string; text: string }[];
}

const MAX_DESCRIPTION = 5000; // CTIM Markdown description limit (xdr-api.md §4.1)

export function casebookExternalId(huntKey: string, threatName: string): string {
  return `sightline-talos-${huntKey}-${threatName}`.toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
}

export function draftCasebook(threat: Threat, observables: Observable[], targets: TargetFinding[], huntKey: string): CasebookDraft {
  const targetLines = targets.map(
    (t) => `- **${t.identifiers.map((i) => i.value).join(' / ')}** seen by ${t.modules.join(', ')} (${t.observables.length} IOC(s), last ${t.lastSeen ?? 'unknown'})`,
  );
  const description = clip(
    [
      `Sightline created this casebook for the Talos Threat Roundup threat **${threat.name}** because targets in your environment sighted its IOCs.`,
      '',
      `**Threat description:** ${threat.description}`,
      ...(threat.link ? ['', `**Talos blog post:** ${threat.link}`] : []),
      '',
      `**Targets (${targets.length}):**`,
      ...targetLines,
    ].join('\n'),
    MAX_DESCRIPTION,
  );
  const context = [
    threat.context.files.length ? `Files created:\n${threat.context.files.slice(0, 200).join('\n')}` : '',
    threat.context.mutexes.length ? `Mutexes:\n${threat.context.mutexes.slice(0, 200).join('\n')}` : '',
    threat.context.registry.length ? `Registry keys:\n${threat.context.registry.slice(0, 200).join('\n')}` : '',
  ].filter(Boolean);
  return {
    // A Cisco-Talos/IOCs post is named after its blog post, not a roundup threat.
    title: threat.category === 'talos-post' ? `Talos – ${threat.name}` : `Talos Roundup – ${threat.name}`,
    description,
    observables,
    // A post has one casebook whichever hunt finds it (a later upload of its .txt finds the same one again).
    external_ids: [casebookExternalId(threat.category === 'talos-post' ? 'post' : huntKey, threat.name)],
    texts: context.map((text) => ({ type: 'notes', text: clip(text, MAX_DESCRIPTION) })),
  };
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
