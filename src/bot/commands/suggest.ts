import type { Command } from './command.js';
import { code } from './format.js';

/**
 * Optimal-string-alignment distance: Levenshtein plus adjacent transpositions,
 * so "hunt nwo" is one edit from "hunt now", as a person would count it.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * Commands the typed text most likely meant, best first (at most three):
 * a small edit distance on the command's words ("hunt nwo"), else a prefix
 * ("inc", "hunt"), else the same first word of a multi-word family ("hunt foo").
 */
export function suggestCommands(text: string, table: readonly Command[]): Command[] {
  const words = text.toLowerCase().trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  // Tier 0: a typo (small edit distance); 1: a prefix; 2: the same first word. Only the best tier is offered.
  const scored: { command: Command; tier: number; score: number }[] = [];
  for (const command of table) {
    const nameWords = command.name.split(' ');
    const head = words.slice(0, nameWords.length).join(' ');
    const distance = editDistance(head, command.name);
    const allowed = command.name.length <= 4 ? 1 : 2;
    if (distance <= allowed) scored.push({ command, tier: 0, score: distance });
    else if (head.length >= 2 && command.name.startsWith(head)) scored.push({ command, tier: 1, score: 0 });
    else if (nameWords.length > 1 && words[0] === nameWords[0]) scored.push({ command, tier: 2, score: 0 });
  }
  const bestTier = Math.min(...scored.map((s) => s.tier));
  return scored
    .filter((s) => s.tier === bestTier)
    .sort((x, y) => x.score - y.score)
    .slice(0, 3)
    .map((s) => s.command);
}

function orList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** "I don't know `hunt nwo`. Did you mean `hunt now`? Type `help` for all commands." */
export function unknownCommandMessage(text: string, table: readonly Command[]): string {
  const suggestions = suggestCommands(text, table).map((c) => code(c.usage));
  const didYouMean = suggestions.length > 0 ? ` Did you mean ${orList(suggestions)}?` : '';
  return `I don't know ${code(text)}.${didYouMean} Type \`help\` for all commands.`;
}

/** "`incidents banana` isn't quite right: the filter must be open, closed or all. Usage: `incidents [open|closed|all] [page]`" */
export function malformedCommandMessage(text: string, command: Command, problem: string): string {
  return `${code(text)} isn't quite right: ${problem}. Usage: ${code(command.usage)}`;
}
