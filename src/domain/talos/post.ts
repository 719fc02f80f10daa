import { ValidationError } from '../../core/errors.js';
import type { Observable, RejectedValue, Threat } from '../types.js';
import { CONTEXT_REASONS, type IocFileResult } from './ioc-collector.js';
import { parseIocText } from './ioc-text.js';
import { isMispEvent, parseMispEvent } from './misp-event.js';
import { isStix1Package, parseStix1Package } from './stix1-package.js';
import { isStix2Bundle, parseStix2Bundle } from './stix2-bundle.js';

/**
 * One Cisco-Talos/IOCs post = one threat of the hunt. A post has a `.json`
 * (STIX 2 bundle, STIX 1 package or MISP event) and/or a `.txt`; the threat is
 * the union of their observables, de-duplicated, and records what each file
 * added. Its name is the report's title, else the file name; its link the
 * blog address from the file.
 */
export interface PostFile {
  /** Repository path or local path of the file. */
  path: string;
  text: string;
}

/** Which format a `.json` IOC file is in; `roundup` is the Threat Roundup layout read by parse.ts. */
export function iocJsonFormat(json: unknown): IocFileResult['format'] | 'roundup' | undefined {
  if (isStix2Bundle(json)) return 'stix2-bundle';
  if (isStix1Package(json)) return 'stix1-package';
  if (isMispEvent(json)) return 'misp-event';
  if (typeof json === 'object' && json !== null && 'signatures' in json) return 'roundup';
  return undefined;
}

/** Reads one IOC file of a post, choosing the parser from its content (names are irregular). */
export function parseIocFile(file: PostFile): IocFileResult {
  const trimmed = file.text.trimStart();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return parseIocText(file.text);
  let json: unknown;
  try {
    json = JSON.parse(file.text);
  } catch (err) {
    throw new ValidationError(`${file.path} looks like JSON but cannot be read (${(err as Error).message}); it is not a Talos IOC file.`);
  }
  switch (iocJsonFormat(json)) {
    case 'stix2-bundle':
      return parseStix2Bundle(json, file.path);
    case 'stix1-package':
      return parseStix1Package(json, file.path);
    case 'misp-event':
      return parseMispEvent(json, file.path);
    case 'roundup':
      throw new ValidationError(`${file.path} is a Talos Threat Roundup, not a per-post IOC file; read it as a roundup.`);
    default:
      throw new ValidationError(`${file.path} is JSON but neither a STIX 2 bundle, a STIX 1 package nor a MISP event export, so Sightline cannot read IOCs from it.`);
  }
}

/** The post's slug as Talos names it: the file name without extension, as uploaded. */
export function postSlug(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.(json|txt)$/i, '');
}

/** Files of one folder grouped by post: `.json` and `.txt` whose names differ only in case belong together. */
export function groupPostFiles(paths: string[]): Array<{ key: string; paths: string[] }> {
  const groups = new Map<string, string[]>();
  for (const path of paths) {
    if (!/\.(json|txt)$/i.test(path)) continue; // stray files such as lang5.py
    const dir = path.slice(0, path.lastIndexOf('/') + 1);
    const key = `${dir}${postSlug(path)}`.toLowerCase();
    groups.set(key, [...(groups.get(key) ?? []), path]);
  }
  // JSON first: its report gives the name and link, the .txt then adds what it has beyond it.
  return [...groups].map(([key, list]) => ({ key, paths: list.sort((a, b) => Number(/\.txt$/i.test(a)) - Number(/\.txt$/i.test(b)) || a.localeCompare(b)) }));
}

/** Merges the parsed files of one post into the threat the hunt investigates. */
export function buildPostThreat(files: Array<{ path: string; result: IocFileResult }>): Threat {
  if (files.length === 0) throw new ValidationError('A Talos post needs at least one IOC file.');
  const seen = new Set<string>();
  const observables: Observable[] = [];
  const rejected: RejectedValue[] = [];
  const seenRejected = new Set<string>();
  const summaries = files.map(({ path, result }) => {
    let added = 0;
    for (const o of result.observables) {
      const key = `${o.type}\u0000${o.value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      observables.push(o);
      added++;
    }
    for (const r of result.rejected) {
      const key = `${r.reason}\u0000${r.value}`;
      if (seenRejected.has(key)) continue;
      seenRejected.add(key);
      rejected.push({ ...r, field: `${fileName(path)}: ${r.field ?? ''}` });
    }
    return { file: path, format: result.format, observables: result.observables.length, added };
  });
  const first = files[0]!;
  const title = files.map((f) => f.result.title).find((t) => t);
  const link = files.map((f) => f.result.link).find((l) => l);
  const published = files.map((f) => f.result.published).find((p) => p);
  const contextOf = (reason: string) => [...new Set(rejected.filter((r) => r.reason === reason).map((r) => r.value))];
  return {
    name: title ?? postSlug(first.path),
    description: published ? `Talos blog post published ${published.slice(0, 10)}` : 'Talos blog post',
    category: 'talos-post',
    reportsCount: observables.length,
    observables,
    rejected,
    context: { files: contextOf(CONTEXT_REASONS.fileName), mutexes: contextOf(CONTEXT_REASONS.mutex), registry: contextOf(CONTEXT_REASONS.registry) },
    ...(link ? { link } : {}),
    files: summaries,
  };
}

/** Parses and merges the files of one post in one call. */
export function parsePost(files: PostFile[]): Threat {
  const ordered = groupPostFiles(files.map((f) => f.path)).flatMap((g) => g.paths);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const list = (ordered.length ? ordered : files.map((f) => f.path)).map((path) => byPath.get(path)!);
  return buildPostThreat(list.map((f) => ({ path: f.path, result: parseIocFile(f) })));
}

function fileName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
