// Reads what an rsync module holds: parses `rsync --list-only -r` lines and streams them from the real rsync client.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { InventoryEntry } from '../core/model.js';

export type RsyncListLine = InventoryEntry | { skip: true } | { error: string };

// File type and permission bits (plus an ACL/xattr marker), e.g. "-rw-r--r--" or "drwxr-xr-x+".
const MODE = /^([-dlpcbsD])[-rwxsStTlL]{9}[+.@]? /;
// A regular file: mode, size, date, time, then exactly one space and the path (which may itself start with spaces).
const FILE_LINE = /^-[-rwxsStTlL]{9}[+.@]? +([0-9][0-9,.']*) (\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) (.*)$/s;
// Thousands separators depend on the locale of the rsync client: "1,234,567", "1.234.567", "1'234'567".
const SIZE = /^(?:\d{1,3}(?:([,.'])\d{3})?(?:\1\d{3})*|\d+)$/;

const SKIP = Object.freeze({ skip: true as const });
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/**
 * One line of `rsync --list-only -r` output, as printed with `LC_ALL=C TZ=UTC` (times are read as UTC).
 * Regular files become entries with the path relative to the module root; directories, symlinks,
 * devices, fifos and sockets are skipped; anything else is an error value. Never throws.
 */
export function parseRsyncListLine(line: string): RsyncListLine {
  // A CRLF-producing wrapper (or a Windows rsync) leaves the CR on the line; rsync itself escapes a CR in a name.
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const mode = MODE.exec(line);
  if (!mode) return { error: 'not an rsync listing line' };
  // Decided on the mode alone: device lines print "major, minor" where files print a size.
  if (mode[1] !== '-') return SKIP;
  const m = FILE_LINE.exec(line);
  if (!m) return { error: 'not an rsync listing line' };
  const [, sizeText = '', y, mo, d, h, mi, s, rawPath = ''] = m;

  if (!SIZE.test(sizeText)) return { error: `bad size "${sizeText}"` };
  const size = Number(sizeText.replace(/[,.']/g, ''));
  if (!Number.isSafeInteger(size)) return { error: `size out of range "${sizeText}"` };

  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return { error: `bad date "${y}/${mo}/${d} ${h}:${mi}:${s}"` };
  }
  const mtime = Date.UTC(year, month - 1, day, hour, minute, second) / 1000;

  const decoded = decodeRsyncName(rawPath);
  if (decoded === undefined) return { error: 'path is not valid UTF-8' };
  let path = decoded;
  while (path.startsWith('./')) path = path.slice(2);
  if (path === '' || path === '.') return { error: 'empty path' };
  return { path, size, mtime };
}

/**
 * Undoes rsync's `\#ooo` escapes (octal bytes for unprintable or, in the C locale, non-ASCII
 * characters) and decodes the bytes as UTF-8; undefined when they are not UTF-8.
 * A backslash not followed by `#ooo` is a literal backslash (rsync escapes it only in that case).
 */
export function decodeRsyncName(raw: string): string | undefined {
  if (!raw.includes('\\#')) return raw;
  const bytes: number[] = [];
  const pushText = (text: string) => {
    for (const b of utf8Encoder.encode(text)) bytes.push(b);
  };
  let from = 0;
  for (let i = raw.indexOf('\\#'); i >= 0; i = raw.indexOf('\\#', i)) {
    const octal = raw.slice(i + 2, i + 5);
    if (/^[0-3][0-7]{2}$/.test(octal)) {
      pushText(raw.slice(from, i));
      bytes.push(parseInt(octal, 8));
      i += 5;
      from = i;
    } else {
      i += 1;
    }
  }
  pushText(raw.slice(from));
  try {
    return utf8.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/** What rsync's exit codes mean (rsync(1), EXIT VALUES), for error messages people can act on. */
const EXIT_MEANINGS: Record<number, string> = {
  1: 'syntax or usage error',
  2: 'protocol incompatibility',
  3: 'errors selecting input/output files, dirs',
  5: 'error starting client-server protocol',
  10: 'error in socket I/O',
  11: 'error in file I/O',
  12: 'error in rsync protocol data stream',
  14: 'error in IPC code',
  20: 'received SIGUSR1 or SIGINT',
  23: 'partial transfer due to error',
  24: 'partial transfer due to vanished source files',
  25: 'the --max-delete limit stopped deletions',
  30: 'timeout in data send/receive',
  35: 'timeout waiting for daemon connection',
};

/** An rsync listing that did not complete; `exitCode` is rsync's (null when it was killed or never started). */
export class RsyncError extends Error {
  override readonly name = 'RsyncError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RsyncListOptions {
  /** Deadline for the whole listing; rsync is killed and the listing fails after it. Default 30 minutes. */
  timeoutMs?: number;
  /** rsync's own I/O timeout (`--timeout`), so a stalled server fails long before the deadline. Default 120. */
  ioTimeoutSeconds?: number;
  signal?: AbortSignal;
  /** The rsync binary; default `rsync` from PATH. */
  rsyncPath?: string;
  /** Called for each output line that is not a listing line (the listing goes on without it). */
  onUnparsed?(line: string, reason: string): void;
}

const STDERR_TAIL_CHARS = 2_000;
const KILL_GRACE_MS = 2_000;

/**
 * Lists the regular files of an rsync URL (which should end in '/') with the real rsync client,
 * one entry at a time as rsync prints them: readline over the child's stdout pauses rsync
 * when the consumer falls behind, so a listing of millions of files never sits in memory.
 * Throws an RsyncError (with rsync's exit code and the tail of its stderr) when rsync fails,
 * times out or is aborted, or when the consumer stops early rsync is killed.
 */
export async function* rsyncList(url: string, opts: RsyncListOptions = {}): AsyncGenerator<InventoryEntry> {
  // An argument starting with '-' would be read as an option.
  if (url.startsWith('-')) throw new RsyncError(`not an rsync URL: ${url}`, null, '');
  opts.signal?.throwIfAborted();
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  // --copy-links: a symlink is listed as the file or folder it points to, under its own name, as a web server
  // serves it and as the origin index reads its own tree (a "latest.iso" link, Debian's dists/stable -> bookworm).
  const args = ['--list-only', '-r', '--copy-links', '--no-motd', `--timeout=${Math.max(1, Math.round(opts.ioTimeoutSeconds ?? 120))}`];
  // --contimeout is refused for remote-shell URLs; it only exists for daemon connections.
  if (url.startsWith('rsync://') || /^[^/]*::/.test(url)) {
    args.push(`--contimeout=${Math.max(1, Math.min(60, Math.ceil(timeoutMs / 1000)))}`);
  }
  args.push('--', url);

  const child = spawn(opts.rsyncPath ?? 'rsync', args, {
    // C locale: predictable number format and \#ooo escapes; UTC: listing times are local times of the client.
    env: { ...process.env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
  });

  let spawnError: Error | undefined;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // `on`, not `once`: a later 'error' (a failed kill) must not go unhandled.
    child.on('error', (error) => {
      spawnError ??= error;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  let stopReason: 'timeout' | 'abort' | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    killTimer.unref();
  };
  const deadline = setTimeout(() => {
    stopReason ??= 'timeout';
    kill();
  }, timeoutMs);
  deadline.unref();
  const onAbort = () => {
    stopReason ??= 'abort';
    kill();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  let finished = false;
  try {
    for await (const line of lines) {
      if (stopReason) break;
      const parsed = parseRsyncListLine(line);
      if ('error' in parsed) opts.onUnparsed?.(line, parsed.error);
      else if (!('skip' in parsed)) yield parsed;
    }
    const { code, signal } = await closed;
    const tail = stderr.trim();
    // One line, so the reason fits a log field or a CLI table cell; RsyncError.stderr keeps the lines.
    const detail = tail ? `: ${tail.split(/\r?\n/).join(' | ')}` : '';
    if (spawnError) {
      throw new RsyncError(`cannot run rsync (${opts.rsyncPath ?? 'rsync'}): ${spawnError.message}`, null, tail, { cause: spawnError });
    }
    if (stopReason === 'timeout') throw new RsyncError(`rsync listing of ${url} timed out after ${timeoutMs} ms${detail}`, code, tail);
    if (stopReason === 'abort') {
      throw new RsyncError(`rsync listing of ${url} was aborted${detail}`, code, tail, { cause: opts.signal?.reason });
    }
    if (signal) throw new RsyncError(`rsync listing of ${url} was killed by ${signal}${detail}`, null, tail);
    // 24 (files vanished while listing) is the normal state of a mirror mid-sync: what was listed is real. So is
    // 23 when all it says is that some symlinks point nowhere (nothing is served there either).
    if (code !== 0 && code !== 24 && !(code === 23 && onlyDanglingLinks(tail))) {
      const meaning = code !== null && EXIT_MEANINGS[code] ? ` (${EXIT_MEANINGS[code]})` : '';
      throw new RsyncError(`rsync listing of ${url} failed with exit code ${code}${meaning}${detail}`, code, tail);
    }
    finished = true;
  } finally {
    clearTimeout(deadline);
    opts.signal?.removeEventListener('abort', onAbort);
    lines.close();
    if (!finished) {
      // The consumer stopped early or something failed: never leave rsync running.
      kill();
      child.stdout.destroy();
      await closed;
    }
    if (killTimer) clearTimeout(killTimer);
  }
}

/** Whether rsync's complaints are only about symlinks without a referent (and vanished files), with its code-23 summary. */
function onlyDanglingLinks(stderrTail: string): boolean {
  const lines = stderrTail.split(/\r?\n/).filter((l) => l.trim() !== '');
  return (
    lines.some((l) => l.startsWith('symlink has no referent: ')) &&
    lines.every((l) =>
      /^(symlink has no referent: |file has vanished: |rsync error: some files\/attrs were not transferred .*\(code 23\)|rsync warning: )/.test(l),
    )
  );
}
