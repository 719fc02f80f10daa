/**
 * "Would this value still serialise to the same JSON text?", answered without making the text.
 *
 * A snapshot of the state compares every unchanged incident's small fields with what it wrote last
 * time (issue 14). Comparing their JSON texts made a string per field per incident per snapshot:
 * ~2.9 kB of garbage and ~5 µs an incident, most of a snapshot's allocation at 10,000 incidents
 * and seconds of CPU at 100,000. A shape is taken once, when the text is written; matching walks the
 * value against it and allocates nothing.
 *
 * A shape is a flat list of tokens (a value's primitives, its keys, and a marker and a count per
 * container), appended to one array the caller owns: one array per incident holds the shapes of all
 * its fields at about the memory their texts took (a tree of small objects took four times as much).
 *
 * The contract is one-sided, as the snapshot needs it: a match means JSON.stringify would write the
 * same text as for the value the shape was taken of. Whatever JSON.stringify treats specially (toJSON,
 * class instances, boxed primitives, BigInt, non-finite numbers, values it writes as null in an array)
 * never matches, so the caller serialises afresh: never wrong, only slower.
 */
export type ShapeToken = string | number | boolean | null | symbol;

const OBJECT = Symbol('object: key count, then key and value tokens');
const ARRAY = Symbol('array: length, then value tokens');
/** A value JSON.stringify treats specially: nothing matches it. */
const NEVER = Symbol('never matches');
/** A value JSON.stringify leaves out (undefined, a function): an object's property it does not write. */
const LEFT_OUT = Symbol('left out of the object');

/**
 * Appends the tokens of `value` as JSON.stringify would write it. A value it leaves out altogether
 * (undefined, a function: an object's property it does not write) has a shape of its own, matched only
 * by another such value; inside an array, where it would be written as null, it never matches.
 */
export function appendShape(value: unknown, tokens: ShapeToken[]): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') tokens.push(value);
  else if (typeof value === 'number') tokens.push(Number.isFinite(value) ? value : NEVER);
  else if (isOmitted(value)) tokens.push(LEFT_OUT);
  else if (!isPlain(value)) tokens.push(NEVER);
  else if (Array.isArray(value)) {
    tokens.push(ARRAY, value.length);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (isOmitted(item)) tokens.push(NEVER);
      else appendShape(item, tokens);
    }
  } else {
    tokens.push(OBJECT, 0);
    const countAt = tokens.length - 1;
    let count = 0;
    // for…in walks own keys in the order JSON.stringify writes them (a plain object inherits none).
    for (const key in value) {
      const v = (value as Record<string, unknown>)[key];
      if (isOmitted(v)) continue;
      tokens.push(key);
      appendShape(v, tokens);
      count++;
    }
    tokens[countAt] = count;
  }
}

/**
 * Matches `value` against the shape starting at `at`: the index just past that shape when the value
 * serialises to the same text as the one the shape was taken of, or -1.
 */
export function matchShapeAt(value: unknown, tokens: readonly ShapeToken[], at: number): number {
  const token = tokens[at];
  if (token === OBJECT) {
    if (!isPlain(value) || Array.isArray(value)) return -1;
    const count = tokens[at + 1] as number;
    let i = at + 2;
    let seen = 0;
    for (const key in value) {
      const v = (value as Record<string, unknown>)[key];
      if (isOmitted(v)) continue;
      if (seen === count || key !== tokens[i]) return -1;
      i = matchShapeAt(v, tokens, i + 1);
      if (i < 0) return -1;
      seen++;
    }
    return seen === count ? i : -1;
  }
  if (token === ARRAY) {
    if (!isPlain(value) || !Array.isArray(value) || value.length !== tokens[at + 1]) return -1;
    let i = at + 2;
    for (let n = 0; n < value.length && i >= 0; n++) i = matchShapeAt(value[n], tokens, i);
    return i;
  }
  if (token === LEFT_OUT) return isOmitted(value) ? at + 1 : -1;
  // Markers are module-private symbols, so no value equals one. -0 === 0, and both serialise as 0.
  return token !== NEVER && value === token ? at + 1 : -1;
}

/** A value JSON.stringify leaves out of an object (and writes as null in an array). */
function isOmitted(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** An array or an object literal's kind of object, without a toJSON of its own: serialised field by field. */
function isPlain(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return false;
  return typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}
