// The one rule answer formats are chosen by: a type the Accept header names itself, any letter case, q above zero.
import { describe, expect, it } from 'vitest';
import { accepts } from '../../src/http/accept.js';

describe('accepts', () => {
  it.each([
    ['*/*', 'text/html', false],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'text/html', true],
    ['TEXT/HTML', 'text/html', true],
    ['Text/Plain', 'text/plain', true],
    ['text/html;q=0, */*', 'text/html', false],
    ['text/html;q=0.000', 'text/html', false],
    ['text/html ; q=0.5', 'text/html', true],
    ['text/html;level=1', 'text/html', true],
    ['text/html2', 'text/html', false],
    ['application/json;q=0,text/plain', 'application/json', false],
    ['application/json', 'application/json', true],
    ['text/*', 'text/*', true],
    ['', 'text/html', false],
  ])('%j names %s: %s', (accept, type, expected) => {
    expect(accepts(accept, type)).toBe(expected);
  });
});
