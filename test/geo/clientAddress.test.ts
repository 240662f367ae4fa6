import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import ipaddr from 'ipaddr.js';
import { createTrustedProxies, ipv4Number, isPublicAddress, normalizeAddress, resolveClientAddress } from '../../src/geo/clientAddress.js';

const trusted = createTrustedProxies(['127.0.0.1/32', '::1', '10.0.0.0/8', '2001:db8:f::/48']);

describe('createTrustedProxies', () => {
  it.each([
    ['127.0.0.1', true],
    ['::ffff:127.0.0.1', true], // Node's dual-stack sockets
    ['::FFFF:7F00:1', true],
    ['127.0.0.2', false],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['10.255.1.2', true],
    ['::ffff:10.1.2.3', true],
    ['11.0.0.1', false],
    ['2001:db8:f:1::5', true],
    ['2001:db8:e::5', false],
    ['not an ip', false],
    ['', false],
  ])('has(%j) = %s', (ip, expected) => {
    expect(trusted.has(ip)).toBe(expected);
  });

  it('reads IPv4-mapped ranges as IPv4', () => {
    const t = createTrustedProxies(['::ffff:192.168.0.0/112']);
    expect(t.has('192.168.4.5')).toBe(true);
    expect(t.has('192.169.0.1')).toBe(false);
  });

  it('accepts host bits and whitespace', () => {
    expect(createTrustedProxies([' 192.168.1.7/24 ']).has('192.168.1.200')).toBe(true);
  });

  it.each(['1.2.3.4/33', '::1/129', '1.2.3', '1.2.3.4/', '1.2.3.4/x', 'localhost', '[::1]', '1.2.3.4:80', '', '10.0.0.0/8/8', '010.0.0.1'])(
    'throws naming %j',
    (bad) => {
      expect(() => createTrustedProxies(['127.0.0.1', bad])).toThrow(`"${bad}"`);
    },
  );
});

describe('resolveClientAddress', () => {
  it.each([
    // [case, peer, xff, xfp, peerHttps, expected ip, expected https]
    ['direct client, no headers', '203.0.113.9', undefined, undefined, false, '203.0.113.9', false],
    ['direct client over TLS', '203.0.113.9', undefined, undefined, true, '203.0.113.9', true],
    ['untrusted peer: XFF and XFP ignored', '203.0.113.9', '198.51.100.1', 'https', false, '203.0.113.9', false],
    ['mapped peer normalised', '::ffff:203.0.113.9', undefined, undefined, false, '203.0.113.9', false],
    ['IPv6 peer normalised', '2001:DB8:0:0:0:0:0:1', undefined, undefined, false, '2001:db8::1', false],
    ['trusted peer, one hop', '127.0.0.1', '198.51.100.1', undefined, false, '198.51.100.1', false],
    ['trusted mapped peer', '::ffff:127.0.0.1', '198.51.100.1', undefined, false, '198.51.100.1', false],
    ['right-most untrusted wins over spoofed left', '127.0.0.1', '1.1.1.1, 198.51.100.1', undefined, false, '198.51.100.1', false],
    ['trusted hops skipped', '127.0.0.1', '1.1.1.1, 198.51.100.1, 10.0.0.5, 10.0.0.6', undefined, false, '198.51.100.1', false],
    ['all trusted: left-most', '127.0.0.1', '10.0.0.1, 10.0.0.2', undefined, false, '10.0.0.1', false],
    ['trusted peer, no XFF: the peer', '127.0.0.1', undefined, undefined, false, '127.0.0.1', false],
    ['trusted peer, empty XFF: the peer', '127.0.0.1', '', undefined, false, '127.0.0.1', false],
    ['joined headers with empty item', '127.0.0.1', '198.51.100.1, ', undefined, false, '198.51.100.1', false],
    ['IPv4 with port', '127.0.0.1', '198.51.100.1:5678', undefined, false, '198.51.100.1', false],
    ['bracketed IPv6 with port', '127.0.0.1', '[2001:DB8::7]:443', undefined, false, '2001:db8::7', false],
    ['bracketed IPv6', '127.0.0.1', '[2001:db8::7]', undefined, false, '2001:db8::7', false],
    ['mapped XFF entry', '127.0.0.1', '::ffff:198.51.100.1', undefined, false, '198.51.100.1', false],
    ['zone id dropped', '127.0.0.1', 'fe80::1%eth0', undefined, false, 'fe80::1', false],
    ['garbage right-most: the peer', '127.0.0.1', '198.51.100.1, unknown', undefined, false, '127.0.0.1', false],
    ['garbage stops the walk at the last good hop', '127.0.0.1', '198.51.100.1, garbage, 10.0.0.3', undefined, false, '10.0.0.3', false],
    ['odd IPv4 spellings are garbage', '127.0.0.1', '0x7f.1', undefined, false, '127.0.0.1', false],
    ['leading zeros are garbage', '127.0.0.1', '010.1.1.1', undefined, false, '127.0.0.1', false],
    ['tabs and spaces', '127.0.0.1', ' \t198.51.100.1\t ', undefined, false, '198.51.100.1', false],
    ['XFP https from trusted peer', '127.0.0.1', '198.51.100.1', 'https', false, '198.51.100.1', true],
    ['XFP case-insensitive', '127.0.0.1', '198.51.100.1', ' HTTPS ', false, '198.51.100.1', true],
    ['XFP right-most value counts', '127.0.0.1', '198.51.100.1', 'https, http', false, '198.51.100.1', false],
    ['XFP right-most https', '127.0.0.1', '198.51.100.1', 'http,https', false, '198.51.100.1', true],
    ['XFP http does not downgrade TLS peer', '127.0.0.1', '198.51.100.1', 'http', true, '198.51.100.1', true],
    ['garbage peer', 'nonsense', '198.51.100.1', 'https', false, '0.0.0.0', false],
  ] as const)('%s', (_case, peer, xff, xfp, peerHttps, ip, https) => {
    expect(resolveClientAddress(peer, xff, xfp, peerHttps, trusted)).toEqual({ ip, https });
  });

  const headerish = fc.oneof(
    fc.string(),
    fc
      .array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('unknown', '', ' ', '[::1]:80', '1.2.3.4:5678', '10.0.0.1', '::ffff:10.0.0.2'), fc.string()), {
        maxLength: 6,
      })
      .map((xs) => xs.join(',')),
  );
  const peerish = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('127.0.0.1', '::ffff:127.0.0.1', '::1', '10.1.1.1'), fc.string());

  it('never throws and always answers a valid IP', () => {
    fc.assert(
      fc.property(peerish, fc.option(headerish, { nil: undefined }), fc.option(fc.string(), { nil: undefined }), fc.boolean(), (peer, xff, xfp, tls) => {
        const out = resolveClientAddress(peer, xff, xfp, tls, trusted);
        expect(isIP(out.ip)).not.toBe(0);
        expect(typeof out.https).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never honours headers from an untrusted peer', () => {
    const untrustedPeer = fc.oneof(fc.ipV4(), fc.ipV6()).filter((ip) => !trusted.has(ip));
    fc.assert(
      fc.property(untrustedPeer, headerish, fc.string(), fc.boolean(), (peer, xff, xfp, tls) => {
        const out = resolveClientAddress(peer, xff, xfp, tls, trusted);
        expect(out).toEqual({ ip: normalizeAddress(peer), https: tls });
      }),
      { numRuns: 2000 },
    );
  });

  it('answers an address that appears in the header or is the peer', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.ipV4(), fc.constantFrom('10.0.0.1', '10.2.3.4')), { minLength: 1, maxLength: 6 }), (hops) => {
        const out = resolveClientAddress('127.0.0.1', hops.join(', '), undefined, false, trusted);
        const firstUntrustedFromRight = [...hops].reverse().find((h) => !trusted.has(h));
        expect(out.ip).toBe(firstUntrustedFromRight ?? hops[0]);
      }),
    );
  });
});

describe('normalizeAddress', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['[::1]', '::1'],
    ['1.2.3', undefined],
    ['1.2.3.256', undefined],
    ['hello', undefined],
  ])('%j → %j', (input, expected) => {
    expect(normalizeAddress(input)).toBe(expected);
  });
});

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['::ffff:8.8.8.8', true],
    ['2a00:1450:4001::1', true],
    ['2001:4860:4860::8888', true],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['172.32.0.1', true],
    ['192.168.1.1', false],
    ['127.0.0.1', false],
    ['::ffff:127.0.0.1', false],
    ['169.254.1.1', false],
    ['100.64.0.1', false],
    ['100.127.255.255', false],
    ['0.0.0.0', false],
    ['0.1.2.3', false],
    ['224.0.0.1', false],
    ['239.255.255.250', false],
    ['240.0.0.1', false],
    ['255.255.255.255', false],
    ['192.0.2.1', false],
    ['198.51.100.1', false],
    ['203.0.113.1', false],
    ['198.18.0.1', false],
    ['::', false],
    ['::1', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['ff02::1', false],
    ['2001:db8::1', false],
    ['64:ff9b::808:808', false],
    ['garbage', false],
    ['', false],
  ])('%s → %s', (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });
});

// The IPv4 fast path (integers, no ipaddr.js objects) must agree with ipaddr.js on every input.
describe('the IPv4 fast path agrees with ipaddr.js', () => {
  const dottedish = fc.oneof(
    fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((p) => p.join('.')),
    fc.ipV4(),
    fc.ipV4Extended(),
    fc.array(fc.constantFrom('0', '1', '9', '.', '00', '255', '256', '01', ' ', 'x', ':', '::ffff:'), { maxLength: 10 }).map((a) => a.join('')),
  );

  it('ipv4Number accepts exactly the four-part decimal addresses, with their value', () => {
    fc.assert(
      fc.property(dottedish, (s) => {
        const valid = ipaddr.IPv4.isValidFourPartDecimal(s);
        const n = ipv4Number(s);
        expect(n >= 0, s).toBe(valid);
        if (valid)
          expect(n, s).toBe(
            ipaddr.IPv4.parse(s)
              .toByteArray()
              .reduce((v, b) => v * 256 + b, 0),
          );
      }),
      { numRuns: 20_000 },
    );
  });

  it('isPublicAddress, normalizeAddress and trusted ranges match the ipaddr.js reading', () => {
    const ranges = createTrustedProxies(['100.64.0.0/10', '8.8.8.8', '0.0.0.0/1', '::ffff:192.168.0.0/112']);
    // The same ranges as ipaddr.js reads them, parsed once.
    const cidrs = ['100.64.0.0/10', '8.8.8.8/32', '0.0.0.0/1', '192.168.0.0/16'].map((c) => ipaddr.parseCIDR(c));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV4(),
          fc.ipV4().map((ip) => `::ffff:${ip}`),
        ),
        (ip) => {
          const v4 = ipaddr.parse(ip.replace(/^::ffff:/, '')) as ipaddr.IPv4;
          const range = v4.range();
          expect(isPublicAddress(ip), ip).toBe(range === 'unicast' || range === 'as112' || range === 'amt');
          expect(normalizeAddress(ip), ip).toBe(v4.toString());
          const inRanges = cidrs.some((r) => v4.match(r as [ipaddr.IPv4, number]));
          expect(ranges.has(ip), ip).toBe(inRanges);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
