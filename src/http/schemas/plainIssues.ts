// zod's own wording ("Invalid input: expected string, received undefined") said as a person reading a 422
// would: "required", "must be a number, not text". Handed to safeParse as its error map; a message a
// schema gives itself (a refine's, a field rule's) still wins over this one.
import type { z } from 'zod';

/** The error map for every body and query the API checks. Undefined: zod's own message. */
export const plainIssues: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required';
      return `must be ${TYPE_NAMES[iss.expected] ?? iss.expected}, not ${kindOf(iss.input)}`;
    case 'too_small':
      return bound(iss.origin, 'least', Number(iss.minimum), iss.inclusive !== false);
    case 'too_big':
      return bound(iss.origin, 'most', Number(iss.maximum), iss.inclusive !== false);
    case 'invalid_value':
      return iss.values.length === 1 ? `must be ${show(iss.values[0])}` : `must be one of ${iss.values.map(show).join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(iss.divisor)}`;
    default:
      return undefined;
  }
};

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return 'text';
    case 'number':
    case 'boolean':
      return String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

/** "must be at least 0", "must not be empty", "must have at most 20 items". */
function bound(origin: string | undefined, side: 'least' | 'most', n: number, inclusive: boolean): string | undefined {
  switch (origin) {
    case 'number':
    case 'int':
    case 'bigint':
      return inclusive ? `must be at ${side} ${n}` : `must be ${side === 'least' ? 'more' : 'less'} than ${n}`;
    case 'string':
      if (side === 'least' && n === 1) return 'must not be empty';
      return `must be at ${side} ${n} character${n === 1 ? '' : 's'} long`;
    case 'array':
    case 'set':
      if (side === 'least' && n === 1) return 'must not be empty';
      return `must have at ${side} ${n} item${n === 1 ? '' : 's'}`;
    default:
      return undefined;
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
