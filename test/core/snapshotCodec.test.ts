import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotBuilder } from '../../src/control/snapshotBuilder.js';
import { decide } from '../../src/core/decide.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { MirrorSpec } from '../../src/core/model.js';
import { decodeSnapshot, encodeSnapshot, SnapshotFormatError } from '../../src/core/snapshotCodec.js';

const spec = (id: string, country: string, include: string[], over: Partial<MirrorSpec> = {}): MirrorSpec => ({
  id,
  name: id,
  baseUrl: `https://${id}.example/`,
  country,
  asn: [64500],
  weight: 100,
  countryOnly: false,
  enabled: true,
  content: { include, exclude: ['**/*.tmp'] },
  ...over,
});

describe('snapshot codec', () => {
  it('round-trips a snapshot so decisions are identical', () => {
    const files = FileIndex.from([
      { path: 'debian/a.iso', size: 10, mtime: 100, sha256: 'ab'.repeat(32) },
      { path: 'fedora/Ünï (1)/b.iso', size: 20 },
      { path: 'debian/x.tmp', size: 1, mtime: 5 },
    ]);
    const b = new SnapshotBuilder({
      mirrors: [spec('de', 'DE', ['**']), spec('us', 'US', ['fedora/**']), spec('jp', 'JP', ['debian/**'], { countryOnly: true })],
      files,
      originBaseUrl: 'https://o.example/',
      routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
      clock: () => 1000,
    });
    b.setInventory('de', [{ path: 'debian/a.iso', size: 10, mtime: 100 }]);
    b.setState('us', { health: 'up', drain: { startMs: 0, overMs: 1e12 }, lagSeconds: 5 });
    const original = b.current();
    const bytes = encodeSnapshot(original);
    const decoded = decodeSnapshot(bytes, 1000);
    expect(decoded.version).toBe(original.version);
    expect(decoded.files.file(0)).toEqual(original.files.file(0));
    expect(decoded.files.file(1)).toEqual(original.files.file(1));
    fc.assert(
      fc.property(fc.ipV4(), fc.constantFrom('DE', 'US', 'JP', undefined), fc.nat(2), fc.boolean(), (ip, country, f, https) => {
        const client = { ip, https, ...(country ? { country } : {}) };
        const path = original.files.paths[f]!;
        const a = decide(original, path, client, { nowMs: 1000, explain: true });
        const d = decide(decoded, path, client, { nowMs: 1000, explain: true });
        expect(d.ranked.map((c) => c.mirror.spec.id)).toEqual(a.ranked.map((c) => c.mirror.spec.id));
        expect(d.excluded.map((e) => [e.mirror.spec.id, e.reason])).toEqual(a.excluded.map((e) => [e.mirror.spec.id, e.reason]));
      }),
    );
  });

  it('carries piece hashes (a sparse table), and leaves no trace of them when no file has any', () => {
    const KiB = 1024;
    const hex = (count: number, seed: number) =>
      Array.from({ length: count }, (_, k) => ((seed + 7 * k) & 0xff).toString(16).padStart(2, '0').repeat(32)).join('');
    const withPieces = [
      { path: 'debian/a.iso', size: 100 * KiB, mtime: 100, sha256: 'ab'.repeat(32), pieces: { length: 16 * KiB, sha256: hex(7, 1) } },
      { path: 'debian/b.txt', size: 3 },
      { path: 'fedora/c.img', size: 64 * KiB + 1, pieces: { length: 32 * KiB, sha256: hex(3, 9) } },
    ];
    const snapshotOf = (files: FileIndex) =>
      new SnapshotBuilder({
        mirrors: [spec('de', 'DE', ['**'])],
        files,
        originBaseUrl: 'https://o.example/',
        routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
        clock: () => 1000,
      }).current();
    const original = snapshotOf(FileIndex.from(withPieces));
    const bytes = encodeSnapshot(original);
    const decoded = decodeSnapshot(bytes, 1000);
    expect([...decoded.files.files()]).toEqual(withPieces);
    expect(decoded.files.pieceInfo(2)).toEqual({ length: 32 * KiB, count: 3 });
    expect(sectionNames(bytes)).toEqual(expect.arrayContaining(['pieceFiles', 'pieceLengths', 'pieceStarts', 'pieceHashes']));
    expect(sectionNames(encodeSnapshot(snapshotOf(FileIndex.from(withPieces.map(({ pieces: _, ...f }) => f)))))).not.toContain('pieceFiles');

    // A piece table that does not fit its files is refused, never read out of bounds later.
    for (const [section, at, value] of [
      ['pieceFiles', 0, 9],
      ['pieceFiles', 4, 0],
      ['pieceLengths', 0, 3000],
      ['pieceStarts', 4, 6],
      ['pieceStarts', 8, 99],
    ] as const) {
      const broken = bytes.slice();
      const s = section32(broken, section);
      s[at / 4] = value;
      expect(() => decodeSnapshot(broken, 1000), `${section}[${at / 4}] = ${value}`).toThrow(SnapshotFormatError);
    }
  });

  it('rejects bytes that are not a snapshot, never crashing', () => {
    expect(() => decodeSnapshot(new Uint8Array([1, 2, 3]), 0)).toThrow(SnapshotFormatError);
    expect(() => decodeSnapshot(new TextEncoder().encode('MGS1garbage-garbage'), 0)).toThrow(SnapshotFormatError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeSnapshot(bytes, 0);
        } catch (err) {
          expect(err).toBeInstanceOf(SnapshotFormatError);
        }
      }),
    );
  });
});

/** The section names of encoded snapshot bytes. */
function sectionNames(bytes: Uint8Array): string[] {
  return header(bytes).sections.map((x) => x.name);
}

function header(bytes: Uint8Array): { sections: { name: string; offset: number; length: number }[]; bodyStart: number } {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  const parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as { sections: { name: string; offset: number; length: number }[] };
  return { ...parsed, bodyStart: (8 + length + 7) & ~7 };
}

/** A section of (8-aligned) snapshot bytes as 32-bit words, to break on purpose. */
function section32(bytes: Uint8Array, name: string): Uint32Array {
  const h = header(bytes);
  const s = h.sections.find((x) => x.name === name)!;
  return new Uint32Array(bytes.buffer, bytes.byteOffset + h.bodyStart + s.offset, s.length / 4);
}

describe('mirror summaries count carried files', () => {
  it('by class, by inventory and file by file alike', async () => {
    const { mirrorSummaries } = await import('../../src/core/mirrorStatus.js');
    const { mirrorCarries } = await import('../../src/core/snapshot.js');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(50)), { minLength: 1, maxLength: 60 }), fc.nat(), (rows, seed) => {
        const files = FileIndex.from(rows.map(([dir, n], i) => ({ path: `${dir}/f${i}`, size: n + 1, mtime: 100 + (n % 7) })));
        const b = new SnapshotBuilder({
          mirrors: [spec('r', 'DE', ['a/**', 'b/**']), spec('i', 'DE', ['**']), spec('s', 'DE', ['c/**'])],
          files,
          originBaseUrl: 'https://o.example/',
          routing: { bandKm: 300, maxAlternatives: 8, maxLagSeconds: 3600 },
          clock: () => 0,
        });
        b.setInventory(
          'i',
          [...files.files()].filter((_, k) => (k + seed) % 3 !== 0),
        );
        b.setState('s', { health: 'up', lastSync: 103, missing: [files.paths[seed % files.count]!] });
        const snap = b.current();
        for (const summary of mirrorSummaries(snap)) {
          const m = snap.mirrors[snap.byId.get(summary.id)!]!;
          let expected = 0;
          for (let f = 0; f < files.count; f++) if (mirrorCarries(snap, m, f)) expected++;
          expect(summary.files).toBe(expected);
        }
      }),
    );
  });
});
