import { appendFile, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OriginWatch } from '../../src/control/origin.js';
import { FileIndex } from '../../src/core/fileIndex.js';
import type { Logger } from '../../src/core/logger.js';

const quiet: Logger = { info() {}, warn() {}, error() {} };
const line = (n: number): string => JSON.stringify({ path: `pub/f${n}.bin`, size: 100 + n, mtime: 1_700_000_000 }) + '\n';
const lines = (count: number): string => Array.from({ length: count }, (_, n) => line(n)).join('');
/** The index in use: the first `n` files of those lines. */
const index = (n: number) => FileIndex.from(Array.from({ length: n }, (_, k) => JSON.parse(line(k)) as { path: string; size: number; mtime: number }));

let dir: string;
let manifest: string;
// Each write gets its own mtime, as a writer seconds apart would: the watch keys on mtime and size.
let tick = 1_700_000_000;
async function write(text: string, append = false): Promise<void> {
  await (append ? appendFile(manifest, text) : writeFile(manifest, text));
  tick += 10;
  await utimes(manifest, tick, tick);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-originwatch-'));
  manifest = join(dir, 'manifest.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('OriginWatch and a manifest rewritten in place', () => {
  it('keeps the index it has while `gen > manifest.jsonl` runs: emptied, then half a line, then done', async () => {
    await write(lines(10));
    const watch = new OriginWatch({ manifest }, dir, quiet);
    await watch.baseline();
    expect(await watch.changed(index(10))).toBeUndefined();

    await write(''); // the shell's `>` truncates first
    await expect(watch.changed(index(10))).rejects.toThrow(/lists no file; keeping the previous index of 10 files/);
    await write(lines(3) + line(3).slice(0, 12), true); // the writer is mid-line
    await expect(watch.changed(index(10))).rejects.toThrow(/unfinished line/);

    await write(line(3).slice(12) + lines(11).slice(lines(4).length), true);
    expect((await watch.changed(index(10)))?.files.count).toBe(11);
    expect(await watch.changed(index(11))).toBeUndefined();
  });

  it('still takes a manifest replaced by rename, one that really shrank, and one without a final newline', async () => {
    await write(lines(10));
    const watch = new OriginWatch({ manifest }, dir, quiet);
    await watch.baseline();
    await write(lines(4));
    expect((await watch.changed(index(10)))?.files.count).toBe(4);
    // No final newline: refused on the first look (a writer may be mid-line), taken when it stays so.
    await write(lines(6).trimEnd());
    await expect(watch.changed(index(4))).rejects.toThrow(/unfinished line/);
    expect((await watch.changed(index(4)))?.files.count).toBe(6);
    // An origin that starts out empty may stay empty.
    await write('');
    const fresh = new OriginWatch({ manifest }, dir, quiet);
    await write('');
    expect((await fresh.changed(index(0)))?.files.count).toBe(0);
  });
});

describe('OriginWatch.mayHave for a download the index lacks', () => {
  it('a manifest may always have it; a tree only where the file is, and not again soon where a walk left it out', async () => {
    await write(lines(1));
    expect(await new OriginWatch({ manifest }, dir, quiet).mayHave('pub/anything.bin')).toBe(true);
    await writeFile(join(dir, 'there.bin'), 'x');
    let now = 1_000_000;
    const tree = new OriginWatch({ root: dir }, dir, quiet, () => now);
    expect(await tree.mayHave('there.bin')).toBe(true);
    expect(await tree.mayHave('not-there.bin')).toBe(false);
    tree.leftOut('there.bin');
    expect(await tree.mayHave('there.bin')).toBe(false);
    now += 61_000;
    expect(await tree.mayHave('there.bin')).toBe(true);
  });
});

describe('OriginWatch dates a change by the look that showed it', () => {
  it('not by the look before: a mirror whose sync ended between the two looks may lack the new file', async () => {
    await write(lines(3));
    let now = 1_800_000_000_000;
    const watch = new OriginWatch({ manifest }, dir, quiet, () => now);
    await watch.baseline();
    now += 1_000;
    expect(await watch.changed(index(3))).toBeUndefined(); // a look that shows nothing new
    now += 1_000; // a mirror syncs here, then the file arrives
    await write(lines(4));
    now += 3_000;
    const change = await watch.changed(index(3));
    expect(change?.files.count).toBe(4);
    expect(change?.since).toBe(now);
  });
});

describe('OriginWatch and a manifest written out line by line in place', () => {
  it('takes what it adds at once, and what it drops only once it has stood unchanged for a minute', async () => {
    const { MANIFEST_SETTLE_MS } = await import('../../src/control/origin.js');
    await write(lines(10));
    let now = tick * 1000;
    const watch = new OriginWatch({ manifest }, dir, quiet, () => now);
    await watch.baseline();
    // A slow generator has written 4 whole lines of 10 and one new file, and pauses between lines.
    await write(lines(4) + JSON.stringify({ path: 'pub/new.bin', size: 1, mtime: 1_700_000_000 }) + '\n');
    now = tick * 1000 + 2_000;
    const first = await watch.changed(index(10));
    expect(first?.files.count).toBe(11);
    expect(first?.files.lookup('pub/new.bin')).toBeGreaterThanOrEqual(0);
    expect(first?.files.lookup('pub/f9.bin')).toBeGreaterThanOrEqual(0);
    // Still unchanged a minute later: it really shrank.
    now = tick * 1000 + MANIFEST_SETTLE_MS;
    expect((await watch.changed(first!.files))?.files.count).toBe(5);
    expect(await watch.changed(index(5))).toBeUndefined();
  });
});
