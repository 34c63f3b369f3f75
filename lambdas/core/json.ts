import * as z from 'zod/mini';

/**
 * How deep objects and arrays may nest in any JSON ws-notify reads (a queue message, a client
 * frame, an events-ingress body) or delivers (a frame). JSON.stringify and zod recurse, and a
 * 40 KB document nested 20,000 deep overflows the stack; a subscriber's own code may recurse too.
 */
export const MAX_JSON_DEPTH = 64;

export type JsonValue = z.core.util.JSONType;

/** Whether objects and arrays nest deeper than MAX_JSON_DEPTH in `value`: `{}` is 1 deep, `{"a":[]}` 2. Walked without recursion. */
export function nestsTooDeep(value: unknown): boolean {
  const nodes: object[] = [];
  const depths: number[] = [];
  const visit = (child: unknown, depth: number) => {
    if (typeof child === 'object' && child !== null) {
      nodes.push(child);
      depths.push(depth);
    }
  };
  visit(value, 1);
  while (nodes.length > 0) {
    const node = nodes.pop() as object;
    const depth = depths.pop() as number;
    if (depth > MAX_JSON_DEPTH) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) visit(child, depth + 1);
  }
  return false;
}

export function tooDeepMessage(what: string): string {
  return `${what} nests objects and arrays more than ${MAX_JSON_DEPTH} deep`;
}

/**
 * A JSON value, validated without being copied: what JSON.parse produced is passed on as it is.
 * zod's `z.json()` rebuilds the value by recursion, which overflows on deep nesting and drops
 * `__proto__` keys (JSON.parse keeps them as own properties; assigning them to a copy does not),
 * so a notification's `data` would arrive altered. Values here always come from JSON.parse, so any
 * value that is present is JSON.
 */
export const JsonValue = z.custom<JsonValue>((value) => value !== undefined, 'expected a JSON value');
