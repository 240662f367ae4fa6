// How a refused body's fields are worded (src/http/schemas/plainIssues.ts): zod's problems said plainly,
// a schema's own message kept. Through problemFields, as the admin API, offers and edge ingest use it.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { plainIssues } from '../../src/http/schemas/plainIssues.js';
import { problemFields } from '../../src/http/schemas/problemFields.js';

const schema = z.strictObject({
  name: z.string().min(1),
  code: z.string().min(3).max(5),
  weight: z.number().min(0),
  ratio: z.number().gt(0).lt(1),
  count: z.number().int(),
  enabled: z.boolean(),
  role: z.enum(['staff', 'provider']),
  kind: z.literal('mirror'),
  tags: z.array(z.string()).min(1).max(2),
  step: z.number().multipleOf(5),
  url: z.string().refine((s) => s.startsWith('https://'), 'must be an https URL'),
});

function fields(value: unknown): Record<string, string> {
  const parsed = schema.safeParse(value, { error: plainIssues });
  if (parsed.success) throw new Error('expected a refusal');
  return { ...problemFields(parsed.error, 'a thing') };
}

describe('a refused field, in plain words', () => {
  it('says what was missing, wrong or out of bounds', () => {
    expect(
      fields({
        code: 'ab',
        weight: -1,
        ratio: 1,
        count: 1.5,
        enabled: 'yes',
        role: 'boss',
        kind: 'origin',
        tags: [],
        step: 7,
        url: 'http://x',
        colour: 'red',
      }),
    ).toEqual({
      name: 'required',
      code: 'must be at least 3 characters long',
      weight: 'must be at least 0',
      ratio: 'must be less than 1',
      count: 'must be a whole number, not 1.5',
      enabled: 'must be true or false, not text',
      role: 'must be one of "staff", "provider"',
      kind: 'must be "mirror"',
      tags: 'must not be empty',
      step: 'must be a multiple of 5',
      url: 'must be an https URL',
      colour: 'colour is not a field of a thing',
    });
  });

  it('names the kind of value that came instead', () => {
    expect(fields({ name: 5, code: 'abcdef', weight: 'heavy', ratio: 0, count: [], enabled: null, tags: ['a', 'b', 'c'] })).toMatchObject({
      name: 'must be text, not 5',
      code: 'must be at most 5 characters long',
      weight: 'must be a number, not text',
      ratio: 'must be more than 0',
      count: 'must be a number, not a list',
      enabled: 'must be true or false, not null',
      tags: 'must have at most 2 items',
    });
  });
});
