import { isUtf8 } from 'node:buffer';
import { SightlineError } from '../../../core/errors.js';

/**
 * Turning the raw bytes of a sightings body into a JSON value, with the 400 sentences a
 * sender can act on (where the JSON breaks; not UTF-8; empty). No I/O: shared by the
 * node:http fast path and the express router.
 */

/** The charset parameter of a Content-Type header, unquoted; undefined when there is none. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return m?.[1];
}

export function decodeJson(body: Buffer): unknown {
  // Invalid UTF-8 would silently become U+FFFD and be counted as a different target or IOC.
  if (!isUtf8(body)) throw new SightlineError('validation_failed', 'The body is not valid UTF-8: send it encoded as UTF-8.', { httpStatus: 400 });
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    // Checked only on failure (a blank body never parses): no trimmed copy of every good body.
    if (text.trim() === '') throw new SightlineError('validation_failed', 'The body is empty: send a sighting object or an array of them.', { httpStatus: 400 });
    const at = jsonErrorPosition(text);
    const { line, column } = lineAndColumn(text, at);
    throw new SightlineError('validation_failed', `The body is not valid JSON: error at position ${at} (line ${line}, column ${column}); fix the sender's serialisation and resend.`, {
      httpStatus: 400,
      cause: err,
    });
  }
}

function lineAndColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: at - lineStart + 1 };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Where JSON.parse gave up, as a character offset. Node 20's messages often carry no
 * position, so a small iterative scanner (no recursion: deep nesting cannot overflow
 * the stack) finds it. Runs only on bodies that already failed to parse.
 */
export function jsonErrorPosition(text: string): number {
  const stack: string[] = [];
  let state: 'value' | 'valueOrEnd' | 'key' | 'keyOrEnd' | 'after' = 'value';
  let i = 0;
  const skipWs = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  for (;;) {
    skipWs();
    if (i >= text.length) return i;
    const ch = text[i]!;
    if (state === 'after') {
      if (stack.length === 0) return i;
      const top = stack.at(-1);
      if (ch === ',') state = top === '{' ? 'key' : 'value';
      else if ((ch === '}' && top === '{') || (ch === ']' && top === '[')) stack.pop();
      else return i;
      i++;
    } else if (state === 'key' || state === 'keyOrEnd') {
      if (state === 'keyOrEnd' && ch === '}') {
        stack.pop();
        i++;
        state = 'after';
        continue;
      }
      if (ch !== '"') return i;
      const end = stringEnd(text, i);
      if (end < 0) return -end - 1;
      i = end;
      skipWs();
      if (text[i] !== ':') return i;
      i++;
      state = 'value';
    } else {
      if (state === 'valueOrEnd' && ch === ']') {
        stack.pop();
        i++;
        state = 'after';
        continue;
      }
      state = 'after';
      if (ch === '{' || ch === '[') {
        stack.push(ch);
        state = ch === '{' ? 'keyOrEnd' : 'valueOrEnd';
        i++;
      } else if (ch === '"') {
        const end = stringEnd(text, i);
        if (end < 0) return -end - 1;
        i = end;
      } else {
        const literal = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
        NUMBER.lastIndex = i;
        const number = NUMBER.exec(text);
        if (literal) i += literal.length;
        else if (number) i += number[0].length;
        else return i;
      }
    }
  }
}

/** Index just past the closing quote, or -(error index) - 1. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c < 0x20) return -i - 1;
    if (c === 92) {
      const next = text[i + 1];
      if (next === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return -(i + 1) - 1;
        i += 5;
      } else if (next !== undefined && '"\\/bfnrt'.includes(next)) i++;
      else return -(i + 1) - 1;
    }
  }
  return -text.length - 1;
}
