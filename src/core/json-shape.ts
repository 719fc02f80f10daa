/**
 * "Would this value still serialise to the same JSON text?", answered without making the text.
 *
 * A snapshot of the state compares every unchanged incident's small fields with what it wrote last
 * time (issue 14). Comparing their JSON texts made a string per field per incident per snapshot:
 * ~2.9 kB of garbage and ~5 µs an incident, most of a snapshot's allocation at 10,000 incidents
 * and seconds of CPU at 100,000. A shape is taken once, when the text is written; matching walks the
 * value against it and allocates nothing.
 *
 * The contract is one-sided, as the snapshot needs it: `matchesJson(v, jsonShapeOf(w))` true means
 * `JSON.stringify(v) === JSON.stringify(w)`. Whatever JSON.stringify would treat specially (toJSON,
 * class instances, boxed primitives, BigInt, non-finite numbers, values it leaves out of arrays)
 * does not match, so the caller serialises afresh: never wrong, only slower.
 */
export type JsonShape = string | number | boolean | null | ArrayShape | ObjectShape | typeof NEVER;

/** The shape of a value JSON.stringify treats specially: nothing matches it. */
const NEVER: unique symbol = Symbol('never matches');

class ArrayShape {
  constructor(readonly items: readonly JsonShape[]) {}
}

class ObjectShape {
  /** Keys in the order JSON.stringify writes them, the ones it leaves out (undefined, functions) skipped. */
  constructor(
    readonly keys: readonly string[],
    readonly values: readonly JsonShape[],
  ) {}
}

/** What `value` serialises as, kept for `matchesJson`. */
export function jsonShapeOf(value: unknown): JsonShape {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : NEVER;
  if (!isPlain(value)) return NEVER;
  if (Array.isArray(value)) return new ArrayShape(Array.from(value, (item) => (isOmitted(item) ? NEVER : jsonShapeOf(item))));
  const keys: string[] = [];
  const values: JsonShape[] = [];
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (isOmitted(v)) continue;
    keys.push(key);
    values.push(jsonShapeOf(v));
  }
  return new ObjectShape(keys, values);
}

/** True only if `value` serialises to the same JSON text as the value `shape` was taken of (see above). */
export function matchesJson(value: unknown, shape: JsonShape): boolean {
  if (shape === NEVER) return false;
  if (shape === null || typeof shape !== 'object') {
    // -0 === 0, and both serialise as 0; NaN and the infinities never got a shape.
    return value === shape;
  }
  if (!isPlain(value)) return false;
  if (shape instanceof ArrayShape) {
    if (!Array.isArray(value) || value.length !== shape.items.length) return false;
    for (let i = 0; i < value.length; i++) if (!matchesJson(value[i], shape.items[i]!)) return false;
    return true;
  }
  if (Array.isArray(value)) return false;
  // for…in walks own keys in the order JSON.stringify writes them (a plain object inherits none).
  let i = 0;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (isOmitted(v)) continue;
    if (i >= shape.keys.length || key !== shape.keys[i] || !matchesJson(v, shape.values[i]!)) return false;
    i++;
  }
  return i === shape.keys.length;
}

/** A property's value as it serialises inside an object: left out (undefined, a function), or a value's shape. */
export type PropertyShape = JsonShape | typeof LEFT_OUT;

const LEFT_OUT: unique symbol = Symbol('left out of the object');

export function propertyShapeOf(value: unknown): PropertyShape {
  return isOmitted(value) ? LEFT_OUT : jsonShapeOf(value);
}

/** True only if the property serialises as it did when `shape` was taken: left out both times, or the same text. */
export function matchesProperty(value: unknown, shape: PropertyShape): boolean {
  return shape === LEFT_OUT ? isOmitted(value) : matchesJson(value, shape);
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
