import { ValidationError } from '../../core/errors.js';

/**
 * A small grammar for the STIX 2.0 patterns in Cisco-Talos/IOCs bundles:
 * observation expressions `[...]` joined by AND/OR/FOLLOWEDBY, comparisons
 * joined by AND/OR with parentheses, the operators = != > < >= <= IN LIKE
 * MATCHES (optionally NOT), string / number / boolean / t'' h'' b'' literals and
 * `( … )` sets for IN. Qualifiers (WITHIN, REPEATS, START … STOP) are read and
 * ignored: they narrow when, not what. One parser instead of a regex per file
 * layout, so a compound pattern yields every value it holds.
 */
export interface Comparison {
  /** `network-traffic:dst_ref.value` (object type, colon, property path). */
  path: string;
  op: string;
  negated: boolean;
  values: string[];
}

/** One `[...]` observation: the comparisons inside it, in order. */
export interface Observation {
  comparisons: Comparison[];
}

type Token = { kind: 'punct' | 'word' | 'string' | 'number'; text: string };

const OPERATORS = new Set(['=', '!=', '<>', '>', '<', '>=', '<=']);
const WORD_OPERATORS = new Set(['IN', 'LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET']);

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if ("[]()," .includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else if ('=!<>'.includes(c)) {
      const two = pattern.slice(i, i + 2);
      const op = OPERATORS.has(two) ? two : c;
      tokens.push({ kind: 'punct', text: op });
      i += op.length;
    } else if (c === "'" || (/[thb]/.test(c) && pattern[i + 1] === "'")) {
      if (c !== "'") i++;
      const [text, end] = readString(pattern, i);
      tokens.push({ kind: 'string', text });
      i = end;
    } else if (/[-0-9]/.test(c)) {
      const match = /^-?\d+(\.\d+)?/.exec(pattern.slice(i));
      if (!match) throw fail(pattern, `unexpected "${c}"`);
      tokens.push({ kind: 'number', text: match[0] });
      i += match[0].length;
    } else {
      // An object path or keyword: letters, digits, `-_:.*` and quoted path parts.
      let j = i;
      while (j < pattern.length && /[A-Za-z0-9_\-:.*'\[\]]/.test(pattern[j]!)) {
        if (pattern[j] === "'") j = readString(pattern, j)[1];
        else if (pattern[j] === '[' || pattern[j] === ']') {
          // `[*]` / `[0]` list index inside a path; a bare `]` closes the observation.
          if (pattern[j] === '[' && /^\[(\*|\d+)\]/.test(pattern.slice(j))) j = pattern.indexOf(']', j) + 1;
          else break;
        } else j++;
      }
      if (j === i) throw fail(pattern, `unexpected "${c}"`);
      tokens.push({ kind: 'word', text: pattern.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

function readString(pattern: string, start: number): [string, number] {
  let out = '';
  for (let i = start + 1; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      out += pattern[++i];
    } else if (c === "'") {
      return [out, i + 1];
    } else out += c;
  }
  throw fail(pattern, 'a quoted value is not closed');
}

function fail(pattern: string, why: string): ValidationError {
  return new ValidationError(`The STIX pattern ${pattern.slice(0, 120)} cannot be read: ${why}.`);
}

/** Parses a pattern into its observations; throws ValidationError on a malformed pattern. */
export function parsePattern(pattern: string): Observation[] {
  const tokens = tokenize(pattern);
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const next = (): Token => {
    const t = tokens[at++];
    if (!t) throw fail(pattern, 'it ends too early');
    return t;
  };
  const expect = (text: string): void => {
    const t = next();
    if (t.text !== text) throw fail(pattern, `expected "${text}" but found "${t.text}"`);
  };
  const isWord = (t: Token | undefined, ...words: string[]): boolean => t?.kind === 'word' && words.includes(t.text.toUpperCase());

  const observations: Observation[] = [];

  function observationExpression(): void {
    observationTerm();
    while (isWord(peek(), 'AND', 'OR', 'FOLLOWEDBY')) {
      next();
      observationTerm();
    }
  }

  function observationTerm(): void {
    const t = next();
    if (t.text === '(') {
      observationExpression();
      expect(')');
    } else if (t.text === '[') {
      const comparisons: Comparison[] = [];
      comparisonExpression(comparisons);
      expect(']');
      observations.push({ comparisons });
    } else throw fail(pattern, `expected "[" but found "${t.text}"`);
    qualifiers();
  }

  function qualifiers(): void {
    for (;;) {
      if (isWord(peek(), 'WITHIN')) {
        next();
        next();
        if (isWord(peek(), 'SECONDS')) next();
      } else if (isWord(peek(), 'REPEATS')) {
        next();
        next();
        if (isWord(peek(), 'TIMES')) next();
      } else if (isWord(peek(), 'START')) {
        next();
        next();
        if (isWord(peek(), 'STOP')) {
          next();
          next();
        }
      } else return;
    }
  }

  function comparisonExpression(out: Comparison[]): void {
    comparisonTerm(out);
    while (isWord(peek(), 'AND', 'OR')) {
      next();
      comparisonTerm(out);
    }
  }

  function comparisonTerm(out: Comparison[]): void {
    if (peek()?.text === '(') {
      next();
      comparisonExpression(out);
      expect(')');
      return;
    }
    if (isWord(peek(), 'EXISTS')) {
      next();
      next();
      return;
    }
    const path = next();
    if (path.kind !== 'word' || !path.text.includes(':')) throw fail(pattern, `expected an object path but found "${path.text}"`);
    let negated = false;
    if (isWord(peek(), 'NOT')) {
      next();
      negated = true;
    }
    const op = next();
    const opText = op.kind === 'word' ? op.text.toUpperCase() : op.text;
    if (!OPERATORS.has(opText) && !WORD_OPERATORS.has(opText)) throw fail(pattern, `"${op.text}" is not a comparison operator`);
    out.push({ path: path.text, op: opText, negated, values: value() });
  }

  function value(): string[] {
    const t = next();
    if (t.text === '(') {
      const values: string[] = [];
      for (;;) {
        values.push(...value());
        const sep = next();
        if (sep.text === ')') return values;
        if (sep.text !== ',') throw fail(pattern, `expected "," or ")" but found "${sep.text}"`);
      }
    }
    if (t.kind === 'string' || t.kind === 'number' || isWord(t, 'TRUE', 'FALSE')) return [t.text];
    throw fail(pattern, `expected a value but found "${t.text}"`);
  }

  observationExpression();
  if (at !== tokens.length) throw fail(pattern, `unexpected "${tokens[at]!.text}" after the end`);
  return observations;
}
