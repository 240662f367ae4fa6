import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { AsnTable, parseIpv6 } from '../../src/geo/asnTable.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const V4_NUM = ['16777216,16777471,13335,"Cloudflare, Inc."', '16778240,16779263,38803,Gtelecom Pty Ltd', '3232235520,3232235775,64500,Doc'].join('\n');
const V6 = [
  '2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC',
  '2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project',
  '2a00:1450::,2a00:1450:4001:ffff:ffff:ffff:ffff:ffff,15169,Google LLC',
].join('\n');

describe('AsnTable from ip-location-db CSV', () => {
  const table = AsnTable.fromCsv(bytes(V4_NUM), bytes(V6));

  it('answers each range through its first and last address, and nothing in the gaps', () => {
    expect(table.lookup('1.0.0.0')).toBe(13335);
    expect(table.lookup('1.0.0.255')).toBe(13335);
    expect(table.lookup('1.0.1.0')).toBeUndefined();
    expect(table.lookup('1.0.4.0')).toBe(38803);
    expect(table.lookup('1.0.7.255')).toBe(38803);
    expect(table.lookup('1.0.8.0')).toBeUndefined();
    expect(table.lookup('0.255.255.255')).toBeUndefined();
    expect(table.lookup('192.168.0.77')).toBe(64500);
    expect(table.lookup('255.255.255.255')).toBeUndefined();
  });

  it('compares IPv6 addresses over all 128 bits', () => {
    expect(table.lookup('2001::')).toBe(6939);
    expect(table.lookup('2001:0:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(6939);
    expect(table.lookup('2001:1::')).toBeUndefined();
    expect(table.lookup('2001:200:1b9:ffff:ffff:ffff:ffff:ffff')).toBe(2500);
    expect(table.lookup('2001:200:1ba::')).toBeUndefined();
    expect(table.lookup('2a00:1450:4001::1')).toBe(15169);
    expect(table.lookup('2a00:1450:4002::')).toBeUndefined();
    expect(table.lookup('::')).toBeUndefined();
    expect(table.lookup('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBeUndefined();
  });

  it('answers nothing for what is not an address', () => {
    for (const s of ['', 'x', '1.2.3', '2001:::1', '1:2:3:4:5:6:7:8:9', '12345::']) expect(table.lookup(s)).toBeUndefined();
  });

  it('reads dotted IPv4 too, skips lines that are not ranges, and sorts an unsorted file', () => {
    const t = AsnTable.fromCsv(
      bytes(
        [
          'start,end,asn,name',
          '10.0.2.0,10.0.2.255,65002,b',
          '10.0.1.0,10.0.1.255,65001,a',
          '10.0.3.0,10.0.3.255,0,AS0 is no network',
          '10.0.9.9,10.0.9.0,65009,backwards',
          '',
        ].join('\r\n'),
      ),
      bytes('2001:db8:2::,2001:db8:2::ffff,65012,b\n2001:db8:1::,2001:db8:1::ffff,65011,a\n::ffff:10.0.0.0,::ffff:10.0.0.255,65010,mapped\n'),
    );
    expect(t.stats).toEqual({ ipv4Ranges: 2, ipv6Ranges: 3, skippedLines: 3 });
    expect(t.lookup('10.0.1.9')).toBe(65001);
    expect(t.lookup('10.0.2.9')).toBe(65002);
    expect(t.lookup('10.0.3.9')).toBeUndefined();
    expect(t.lookup('2001:db8:1::5')).toBe(65011);
    expect(t.lookup('2001:db8:2::5')).toBe(65012);
    expect(t.lookup('::ffff:a00:5')).toBe(65010);
  });

  it('refuses files without a single range (a truncated or wrong file)', () => {
    expect(() => AsnTable.fromCsv(bytes(''), bytes(V6))).toThrow(/without ranges/);
    expect(() => AsnTable.fromCsv(bytes(V4_NUM), bytes('not,a,csv\n'))).toThrow(/without ranges/);
  });
});

describe('parseIpv6', () => {
  const words = (text: string) => {
    const out = new Uint32Array(4);
    return parseIpv6(bytes(text), 0, text.length, out, 0) ? [...out] : undefined;
  };
  const expected = (a: ipaddr.IPv6) => [0, 1, 2, 3].map((w) => ((a.parts[2 * w]! << 16) | a.parts[2 * w + 1]!) >>> 0);

  it('reads every spelling ipaddr.js writes as the same 128 bits', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }), (parts) => {
        const a = new ipaddr.IPv6(parts);
        const fixed = parts.map((p) => p.toString(16).padStart(4, '0')).join(':');
        for (const text of [a.toString(), a.toNormalizedString(), fixed, a.toString().toUpperCase()]) expect(words(text), text).toEqual(expected(a));
      }),
    );
  });

  it('refuses what is not plain IPv6', () => {
    for (const s of [
      '',
      ':',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1::2:3:4:5:6:7:8',
      '12345::',
      'g::',
      '1:',
      ':1',
      '::ffff:1.2.3.4',
      'fe80::1%eth0',
    ]) {
      expect(words(s), s).toBeUndefined();
    }
  });
});
