// Header fields as text and back: the 302's fields are made as field lines and read as pairs for the Fetch API.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldLines, fieldPairs } from '../../src/http/fieldLines.js';

const name = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/);
// A header value as the redirect's are: printable ASCII, no leading space (what ': ' splits on).
const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,60})?$/);

describe('fieldLines and fieldPairs', () => {
  it('read back what they wrote, in order, a name as often as it came', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 12 }), (fields) => {
        const pairs = fields.flat();
        expect(fieldPairs(fieldLines(pairs))).toEqual(pairs);
      }),
    );
  });

  it('write one line a field, as HTTP/1.1 does', () => {
    expect(fieldLines(['link', '<a>; rel=duplicate', 'link', '<b>'])).toBe('link: <a>; rel=duplicate\r\nlink: <b>\r\n');
  });

  it('refuse what is not field lines rather than guess', () => {
    for (const bad of ['no-colon\r\n', 'a: b', ': empty-name\r\n', 'bad name: x\r\n', 'a: b\nc: d\r\n', 'a: b\rc\r\n']) {
      expect(() => fieldPairs(bad), JSON.stringify(bad)).toThrow(/not a header field line/);
    }
    expect(fieldPairs('')).toEqual([]);
  });
});
