// Reads a mirrorgate YAML config and turns it into a validated Config, or a ConfigError listing every problem as "path.to.key: reason".
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { describeValue, issueWords } from './issueWords.js';
import { configSchema, crossFieldProblems, type Config, type Problem, type SchemaContext } from './schema.js';

export type { Config, MirrorConfig, TokenConfig } from './schema.js';

export const DEFAULT_CONFIG_PATH = 'config/mirrorgate.yaml';

/** Every problem found in one config; the message is the problems, one per line, ready for stderr. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The config file to use: MIRRORGATE_CONFIG, else config/mirrorgate.yaml, relative to the working directory. */
export function resolveConfigPath(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, env.MIRRORGATE_CONFIG || DEFAULT_CONFIG_PATH);
}

/**
 * Reads and validates the config at `file`. `textFile`, when given, holds the text to parse instead (a cluster
 * primary's copy of the file as it read it); relative paths still resolve against `file`'s folder.
 */
export async function loadConfig(file: string, env: Record<string, string | undefined> = process.env, textFile?: string): Promise<Config> {
  const abs = path.resolve(file);
  return parseConfig(await readConfigText(textFile ?? abs), { file: abs, env });
}

/** A config file's text, or a ConfigError saying in one line why it cannot be read. */
export async function readConfigText(file: string): Promise<string> {
  const abs = path.resolve(file);
  try {
    return await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError([`${abs}: config file not found (set MIRRORGATE_CONFIG or pass a path)`]);
    if (code === 'EISDIR') throw new ConfigError([`${abs}: is a directory, not a config file`]);
    throw new ConfigError([`${abs}: cannot read config file: ${(err as Error).message}`]);
  }
}

export function parseConfig(text: string, opts: { file?: string; env?: Record<string, string | undefined> } = {}): Config {
  const file = opts.file ? path.resolve(opts.file) : '';
  // Problems about the document as a whole need a subject; the file name is the most useful one.
  const subject = file || '(config)';
  const lineCounter = new LineCounter();
  // logLevel 'error': a collection used as a key would print a process warning; it becomes an unknown key instead.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err) => {
        const { line, col } = lineCounter.linePos(err.pos[0]);
        return `${file ? `${file}:` : ''}${line}:${col}: ${err.message}`;
      }),
    );
  }

  let raw: unknown;
  try {
    raw = compactStrings(doc.toJS({ maxAliasCount: 100 }));
  } catch (err) {
    // e.g. an alias bomb past maxAliasCount
    throw new ConfigError([`${subject}: ${(err as Error).message}`]);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([`${subject}: the config is empty; expected a mapping with publicUrl, origin, mirrors, …`]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`${subject}: expected a mapping with publicUrl, origin, mirrors, … at the top level, got ${describeValue(raw)}`]);
  }

  const context: SchemaContext = {
    file,
    baseDir: file ? path.dirname(file) : process.cwd(),
    env: opts.env ?? process.env,
  };
  const result = configSchema(context).safeParse(raw, { error: issueWords });
  const problems = [...(result.success ? [] : issuesToProblems(result.error.issues)), ...crossFieldProblems(raw, context)];
  if (!result.success || problems.length > 0) {
    throw new ConfigError(inSourceOrder(problems, doc).map((p) => formatProblem(p, subject)));
  }
  return result.data;
}

/**
 * Every string of the parsed tree, keys too, as its own flat copy. YAML scalars are slices of the file's
 * text, and one character past U+00FF anywhere in the file (an em dash in a comment) makes all of them
 * two-byte: each Location, Link, map key and comparison built from a mirror's id or URL then pays for
 * the wider form on every download. JSON.parse makes a string one byte per character where it fits.
 */
function compactStrings(value: unknown): unknown {
  if (typeof value === 'string') return JSON.parse(JSON.stringify(value)) as string;
  if (Array.isArray(value)) return value.map(compactStrings);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    // defineProperty: a "__proto__" key stays a key (and an unknown one) instead of setting the prototype.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, compactStrings(k) as string, { value: compactStrings(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

function formatProblem(problem: Problem, subject: string): string {
  // A key that is empty or holds dots or spaces is quoted, so the path still reads as one.
  const key = (k: string | number) => (typeof k === 'number' || /^[A-Za-z0-9_-]+$/.test(k) ? String(k) : JSON.stringify(k));
  return `${problem.path.length > 0 ? problem.path.map(key).join('.') : subject}: ${problem.message}`;
}

function issuesToProblems(issues: z.core.$ZodIssue[]): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    const at = issue.path.map((key) => (typeof key === 'number' ? key : String(key)));
    // One line per unknown key, so each typo is named where it sits.
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: [...at, key], message: 'unknown key' });
    } else {
      problems.push({ path: at, message: issue.message });
    }
  }
  return problems;
}

/** Sorts problems by where they sit in the YAML (stable), so the list reads top to bottom like the file. */
function inSourceOrder(problems: Problem[], doc: Document): Problem[] {
  const offsetOf = (at: Problem['path']): number => {
    for (let n = at.length; n > 0; n--) {
      try {
        const node = doc.getIn(at.slice(0, n), true);
        // A missing key ("required") is listed after what its parent does contain.
        if (isNode(node) && node.range) return n === at.length ? node.range[0] : node.range[1];
      } catch {
        // a path through a scalar: try the parent
      }
    }
    return -1;
  };
  return problems
    .map((problem, index) => ({ problem, index, offset: offsetOf(problem.path) }))
    .sort((a, b) => a.offset - b.offset || a.index - b.index)
    .map((entry) => entry.problem);
}
