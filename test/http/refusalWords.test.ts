// How a refused body's fields are worded (src/config/issueWords.ts, the config file's words too): zod's problems
// said plainly, a schema's own message kept. Through problemFields, as the admin API, offers and edge ingest use it.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { issueWords } from '../../src/config/issueWords.js';
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
  url: z.string().refine((s) => s.startsWith('https://'), 'must be an https URL'),
});

function fields(value: unknown): Record<string, string> {
  const parsed = schema.safeParse(value, { error: issueWords });
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
        url: 'http://x',
        colour: 'red',
      }),
    ).toEqual({
      name: 'required',
      code: 'must be at least 3 characters',
      weight: 'must be at least 0',
      ratio: 'must be less than 1',
      count: 'expected an integer, got 1.5',
      enabled: 'expected true or false, got "yes"',
      role: 'expected one of "staff", "provider", got "boss"',
      kind: 'expected one of "mirror", got "origin"',
      tags: 'needs at least 1 item',
      url: 'must be an https URL',
      colour: 'colour is not a field of a thing',
    });
  });

  it('names the value that came instead', () => {
    expect(fields({ name: 5, code: 'abcdef', weight: 'heavy', ratio: 0, count: [], enabled: null, tags: ['a', 'b', 'c'] })).toMatchObject({
      name: 'expected a string, got 5',
      code: 'must be at most 5 characters',
      weight: 'expected a number, got "heavy"',
      ratio: 'must be greater than 0',
      count: 'expected a number, got a list',
      enabled: 'expected true or false, got an empty value',
      tags: 'must have at most 2 items',
    });
  });
});
