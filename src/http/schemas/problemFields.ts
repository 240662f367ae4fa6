// How a refused body or query names each failed field in a 422's (or a query's 400's) `fields`: one reason per field, unknown keys by their own name.
import type { z } from 'zod';

/** A field's key and reason as the answer words them (offers: as the client spelled it, in plain words). */
export type DescribeIssue = (path: string, message: string) => { key: string; reason: string };

const asGiven: DescribeIssue = (path, message) => ({ key: path, reason: message });

/**
 * zod problems as { field: reason }, the first reason per field. An unknown key is named itself
 * ("bogus": "bogus is not a field of a mirror"), never folded into the body as a whole; a problem
 * with the whole body (not an object, nothing to change) is under "(body)".
 */
export function problemFields(error: z.ZodError, subject: string, describe: DescribeIssue = asGiven): Record<string, string> {
  // Without a prototype, so a client's "constructor" or "__proto__" is named like any other key, not lost.
  const out = Object.create(null) as Record<string, string>;
  const name = (key: string, reason: string) => {
    if (!(key in out)) out[key] = reason; // the first reason per field
  };
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) name([...issue.path, key].join('.'), `${key} is not a field of ${subject}`);
      continue;
    }
    const { key, reason } = describe(issue.path.length ? issue.path.join('.') : '(body)', issue.message);
    name(key, reason);
  }
  return out;
}
