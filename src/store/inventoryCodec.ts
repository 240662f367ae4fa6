// Streams an inventory to and from gzip'd JSONL (a header line, then one entry per line), the one format both stores keep scans in.
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { InventoryEntry } from '../core/model.js';
import { inventoryEntrySchema, inventoryHeaderSchema } from './schemas.js';
import type { InventoryRecord } from '../core/records.js';

/** A stored inventory that cannot be read back; `line` is 1-based, 0 for the gzip layer. */
export class InventoryFormatError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(line > 0 ? `line ${line}: ${reason}` : reason);
    this.name = 'InventoryFormatError';
  }
}

// Lines are joined into ~64 KiB pieces: one stream chunk per line would make a million-entry scan crawl.
const PIECE_CHARS = 64 * 1024;

function* inventoryPieces(record: InventoryRecord): Generator<string> {
  let piece = JSON.stringify({ scannedAt: record.scannedAt, source: record.source }) + '\n';
  for (const entry of record.entries) {
    const line: InventoryEntry = { path: entry.path, size: entry.size };
    if (entry.mtime !== undefined) line.mtime = entry.mtime;
    piece += JSON.stringify(line) + '\n';
    if (piece.length >= PIECE_CHARS) {
      yield piece;
      piece = '';
    }
  }
  if (piece.length > 0) yield piece;
}

/** The gzip'd JSONL bytes of an inventory, produced lazily. */
export function gzipInventory(record: InventoryRecord): Readable {
  const gzip = createGzip();
  const source = Readable.from(inventoryPieces(record));
  source.on('error', (err) => gzip.destroy(err));
  return source.pipe(gzip);
}

/** Reads gzip'd JSONL bytes back, validating every line; rejects with InventoryFormatError. */
export async function readInventory(gzipped: Readable): Promise<InventoryRecord> {
  const gunzip = createGunzip();
  // An I/O failure of the source is not corruption: it is rethrown as is, never as InventoryFormatError.
  let sourceError: Error | undefined;
  gzipped.on('error', (err) => {
    sourceError = err;
    gunzip.destroy(err);
  });
  gzipped.pipe(gunzip);
  gunzip.setEncoding('utf8');

  let header: Omit<InventoryRecord, 'entries'> | undefined;
  const entries: InventoryEntry[] = [];
  let lineNo = 0;
  let rest = '';
  const takeLine = (line: string): void => {
    lineNo++;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new InventoryFormatError(lineNo, 'not JSON');
    }
    if (header === undefined) {
      const parsed = inventoryHeaderSchema.safeParse(value);
      if (!parsed.success) throw new InventoryFormatError(lineNo, `bad header: ${parsed.error.message}`);
      header = parsed.data;
      return;
    }
    const parsed = inventoryEntrySchema.safeParse(value);
    if (!parsed.success) throw new InventoryFormatError(lineNo, `bad entry: ${parsed.error.message}`);
    entries.push(parsed.data);
  };

  try {
    for await (const chunk of gunzip as AsyncIterable<string>) {
      const text = rest + chunk;
      let start = 0;
      for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
        takeLine(text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
    }
  } catch (err) {
    gzipped.destroy();
    if (sourceError !== undefined) throw sourceError;
    if (err instanceof InventoryFormatError) throw err;
    throw new InventoryFormatError(0, `unreadable gzip: ${(err as Error).message}`);
  }
  // Every line we write ends in '\n', so leftover text means a torn or foreign file.
  if (rest.length > 0) throw new InventoryFormatError(lineNo + 1, 'truncated line');
  if (header === undefined) throw new InventoryFormatError(0, 'empty inventory');
  return { ...header, entries };
}
