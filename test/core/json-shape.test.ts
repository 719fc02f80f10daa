import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendShape, matchShapeAt, type ShapeToken } from '../../src/core/json-shape.js';

/** One value's shape, in an array of its own. */
function jsonShapeOf(v: unknown): ShapeToken[] {
  const tokens: ShapeToken[] = [];
  appendShape(v, tokens);
  return tokens;
}

/** Whether a value matches a shape to its end. */
function matchesJson(v: unknown, shape: readonly ShapeToken[]): boolean {
  return matchShapeAt(v, shape, 0) === shape.length;
}

/** JSON.stringify, or undefined where it throws (a BigInt). */
function text(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

class Point {
  constructor(readonly x: number) {}
}

/**
 * Values from a small space, so that two draws are often equal, nearly equal or equal in text
 * only: the keys, numbers and odd members JSON.stringify treats specially (undefined, functions,
 * NaN, -0, Dates, toJSON, class instances, a boxed string, integer-like keys that it writes first).
 */
const odd = fc.constantFrom<unknown>(undefined, () => 1, Symbol('s'), Number.NaN, Number.POSITIVE_INFINITY, -0, new Date(0), { toJSON: () => 'x' }, new Point(1), 1n, Object('a'));
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom<unknown>(null, true, false, 0, 1, 'a', 'b', ''),
    odd,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', '1', '0'), tie('value'), { maxKeys: 3 }),
  ),
}));

describe('JSON shapes (whether a value still serialises to the same text)', () => {
  it('never says "same" when JSON.stringify would write different text', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        if (matchesJson(b, jsonShapeOf(a))) expect(text(b)).toBe(text(a));
        if (matchesJson(b, jsonShapeOf(a))) expect(text({ k: b })).toBe(text({ k: a }));
      }),
      { numRuns: 20_000 },
    );
  });

  it('says "same" for any JSON value and its copy, so an unchanged field is not written again', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (a) => {
        expect(matchesJson(structuredClone(a), jsonShapeOf(a))).toBe(true);
        expect(matchesJson(a, jsonShapeOf(a))).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('sees a change made in place, deep down, after the shape was taken', () => {
    const v = { pending: [], dropped: 0, deadLetters: [{ opId: 1, reason: 'refused', at: '2022' }] };
    const shape = jsonShapeOf(v);
    expect(matchesJson(v, shape)).toBe(true);
    v.deadLetters[0]!.reason = 'refused again';
    expect(matchesJson(v, shape)).toBe(false);
  });

  it('tells key order apart, as the text does, and ignores fields the text leaves out', () => {
    expect(matchesJson({ b: 1, a: 2 }, jsonShapeOf({ a: 2, b: 1 }))).toBe(false);
    expect(matchesJson({ a: 1, gone: undefined, f: () => 0 }, jsonShapeOf({ a: 1 }))).toBe(true);
    expect(matchesJson({ a: 1 }, jsonShapeOf({ a: 1, b: 2 }))).toBe(false);
    expect(matchesJson({ a: 1, b: 2 }, jsonShapeOf({ a: 1 }))).toBe(false);
    expect(matchesJson(-0, jsonShapeOf(0))).toBe(true);
  });

  it('leaves whatever JSON.stringify treats specially to be written afresh (no match, never a wrong one)', () => {
    for (const special of [Number.NaN, new Date(0), { toJSON: () => 1 }, new Point(1), [undefined], [1, , 3]]) {
      expect(matchesJson(special, jsonShapeOf(special))).toBe(false);
    }
  });

  it('reads shapes laid end to end, as an incident keeps its fields', () => {
    const a = { x: [1, { y: 'z' }], w: null };
    const b = ['x', { y: 1 }];
    const tokens = [...jsonShapeOf(a), ...jsonShapeOf(b)];
    const next = matchShapeAt(a, tokens, 0);
    expect(next).toBe(jsonShapeOf(a).length);
    expect(matchShapeAt(b, tokens, next)).toBe(tokens.length);
    expect(matchShapeAt(b, tokens, 0)).toBe(-1);
    expect(matchShapeAt({ ...a, w: 0 }, tokens, 0)).toBe(-1);
    // An object with fewer keys fails where it ends, not later: the next shape must not be read from the middle of this one.
    expect(matchShapeAt({ a: 1 }, jsonShapeOf({ a: 1, b: 2 }), 0)).toBe(-1);
    expect(matchShapeAt([1], jsonShapeOf([1, 2]), 0)).toBe(-1);
  });

  it('matches a property left out of the object only by one left out again', () => {
    expect(matchesJson(undefined, jsonShapeOf(undefined))).toBe(true);
    expect(matchesJson(() => 1, jsonShapeOf(undefined))).toBe(true);
    expect(matchesJson(null, jsonShapeOf(undefined))).toBe(false);
    expect(matchesJson(undefined, jsonShapeOf(null))).toBe(false);
  });
});
