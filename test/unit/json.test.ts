import { JsonValue, MAX_JSON_DEPTH, nestsTooDeep } from '../../lambdas/core/json';

/** `[[[…]]]`, `levels` arrays deep, parsed as a handler parses a body. */
const nested = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

describe('nesting depth', () => {
  it(`counts objects and arrays, and allows ${MAX_JSON_DEPTH} levels but not ${MAX_JSON_DEPTH + 1}`, () => {
    expect(nestsTooDeep(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(nestsTooDeep(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    let objects: unknown = 'leaf';
    for (let level = 0; level < MAX_JSON_DEPTH; level++) objects = { level: objects };
    expect(nestsTooDeep(objects)).toBe(false);
    expect(nestsTooDeep([objects])).toBe(true);
  });

  it('takes scalars as no depth at all, and width as no depth', () => {
    expect(nestsTooDeep('x')).toBe(false);
    expect(nestsTooDeep(null)).toBe(false);
    expect(nestsTooDeep(undefined)).toBe(false);
    expect(nestsTooDeep(Array.from({ length: 20_000 }, (_, index) => ({ index })))).toBe(false);
  });

  it('measures a document nested 20,000 deep (a 40 KB body) without overflowing the stack', () => {
    const deep = nested(20_000);

    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(nestsTooDeep(deep)).toBe(true);
  });

  it('counts the nesting under a __proto__ key, which JSON.parse keeps as an own property', () => {
    expect(nestsTooDeep(JSON.parse(`{"__proto__":${JSON.stringify(nested(MAX_JSON_DEPTH))}}`))).toBe(true);
  });
});

describe('JSON values', () => {
  it('are passed on as they were parsed, not copied: a __proto__ key stays', () => {
    const data = JSON.parse('{"__proto__":{"admin":true},"list":[{"__proto__":1}]}') as object;

    const parsed = JsonValue.parse(data);

    expect(parsed).toBe(data);
    expect(JSON.stringify(parsed)).toBe('{"__proto__":{"admin":true},"list":[{"__proto__":1}]}');
  });

  it('accept null, and refuse only an absent value', () => {
    expect(JsonValue.safeParse(null).success).toBe(true);
    expect(JsonValue.safeParse(undefined).success).toBe(false);
  });
});
