// The `mirrorgate` command line: each command group registers its subcommands on one commander program, and run() maps outcomes to exit codes, in process.
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, resolveConfigPath } from '../config/load.js';
import { addMirrorCommands } from './commands/mirrors.js';
import { addOfferCommands } from './commands/offers.js';
import { addReportCommands } from './commands/reports.js';
import { addScanCommands } from './commands/scan.js';
import { addTokenCommands } from './commands/tokens.js';
import { CliError, EXIT, type CliContext, type CliOutput } from './context.js';

export { CliError, EXIT, type CliContext, type CliIO, type CliOutput } from './context.js';

/** Where a run reads and writes; each defaults to the process's own. */
export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Relative paths (check-config's file, MIRRORGATE_CONFIG, serve --config, mirrors logo's file) resolve against it. */
  cwd?: string;
  stdout?: CliOutput;
  stderr?: CliOutput;
}

/**
 * Runs the command line on `args` (what follows `mirrorgate`) and resolves to the exit code (EXIT). Never
 * calls process.exit and touches nothing of the process it is not given, so tests and scripts run it in
 * process, several at once; bin/mirrorgate.js passes it process.argv.slice(2).
 */
export async function run(args: readonly string[], options: RunOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const ctx: CliContext = {
    io: {
      out: (text) => void stdout.write(text),
      err: (text) => void stderr.write(text),
      // Bars only on a terminal: piped output gets the final lines alone.
      progress: () => (stdout.isTTY ? stdout : undefined),
    },
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    exitCode: EXIT.ok,
  };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...args], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    // Help and --version exit 0; usage errors exit 2. Commander already printed what to say.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT.usage;
    if (err instanceof CliError) {
      // Messages are built from cleaned parts (server text included), so they print as they are.
      ctx.io.err(`mirrorgate: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      ctx.io.err(`${err.message}\n`);
      return EXIT.failed;
    }
    ctx.io.err(`mirrorgate: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failed;
  }
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('mirrorgate')
    .description('Download redirector and geo load balancer for open-source mirror networks')
    .version(packageVersion())
    // Set before adding commands: subcommands inherit both, so nothing ever calls process.exit.
    .exitOverride()
    .configureOutput({ writeOut: (text) => ctx.io.out(text), writeErr: (text) => ctx.io.err(text) })
    .showHelpAfterError();
  addServeCommand(program, ctx);
  addConfigCommands(program, ctx);
  addMirrorCommands(program, ctx);
  addOfferCommands(program, ctx);
  addScanCommands(program, ctx);
  addReportCommands(program, ctx);
  addTokenCommands(program, ctx);
  return program;
}

function addServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve downloads, pages and the APIs (config from --config, MIRRORGATE_CONFIG or config/mirrorgate.yaml)')
    .option('--config <file>', 'config file')
    .option('--port <n>', 'port to listen on (overrides PORT and the config)', parsePort)
    .option('--workers <n|auto>', 'worker processes on the one port (default 1; "auto": one per core; or MIRRORGATE_WORKERS)')
    .action(async (opts: { config?: string; port?: number; workers?: string }) => {
      // Imported on demand so config-only commands never load the server and its dependencies.
      const { start, WorkerCountError } = await import('../node.js');
      const configPath = opts.config === undefined ? resolveConfigPath(ctx.env, ctx.cwd) : path.resolve(ctx.cwd, opts.config);
      try {
        // Resolves once serving; the server then keeps the process alive until SIGTERM or SIGINT.
        await start({ configPath, port: opts.port, workers: opts.workers, env: ctx.env });
      } catch (err) {
        // A bad --workers (or MIRRORGATE_WORKERS) is a usage error, as a bad --port is.
        if (err instanceof WorkerCountError) throw new CliError(err.message, EXIT.usage);
        if (!(err instanceof ConfigError)) throw err;
        ctx.io.err(`${err.problems.join('\n')}\nmirrorgate: refusing to start with an invalid config\n`);
        ctx.exitCode = EXIT.failed;
      }
    });
}

function addConfigCommands(program: Command, ctx: CliContext): void {
  program
    .command('check-config')
    .description('validate a config file and print every problem as path.to.key: reason')
    .argument('[file]', 'config file (default: MIRRORGATE_CONFIG or config/mirrorgate.yaml)')
    .action(async (file: string | undefined) => {
      const configPath = file === undefined ? resolveConfigPath(ctx.env, ctx.cwd) : path.resolve(ctx.cwd, file);
      try {
        // As the server reads it at start (its GeoIP files too), so an ok here is a config it starts on.
        const { loadServableConfig } = await import('../node.js');
        const config = await loadServableConfig(configPath, ctx.env);
        const n = config.mirrors.length;
        ctx.io.out(`ok: ${config.file} (${n} mirror${n === 1 ? '' : 's'})\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        ctx.io.err(`${err.problems.join('\n')}\n`);
        ctx.exitCode = EXIT.failed;
      }
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new InvalidArgumentError('expected a port number 0-65535');
  return port;
}

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = (pkg as { version?: unknown }).version;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return import.meta.url === pathToFileURL(path.resolve(script)).href;
  }
}

// `tsx src/cli/main.ts …` runs the CLI; importing this module (bin/mirrorgate.js, tests) does not.
if (isEntryPoint()) {
  process.exitCode = await run(process.argv.slice(2));
}
