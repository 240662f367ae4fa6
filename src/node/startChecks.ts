// What stops a valid config from serving, found before anything starts: the files and settings the schema takes on trust.
import { ConfigError, loadConfig, type Config } from '../config/load.js';
import { geoFileProblems } from '../geo/maxmindLocator.js';
import { storeUrlProblem } from '../store/openStore.js';

/**
 * "key: reason" lines for what a start on `config` would trip over: GeoIP files that are not MaxMind DBs, a
 * REDIS_URL that is not a Redis URL (it replaces `store`). check-config and the start both say them.
 */
export async function startProblems(config: Config, env: Record<string, string | undefined>): Promise<string[]> {
  const problems = await geoFileProblems(config.geoip);
  const redisUrl = env.REDIS_URL;
  const redis = redisUrl ? storeUrlProblem(redisUrl) : undefined;
  if (redis) problems.push(`REDIS_URL: ${redis}`);
  return problems;
}

/** Refuses (ConfigError, as an invalid config is refused) a config that startProblems finds fault with. */
export async function refuseUnservable(config: Config, env: Record<string, string | undefined>): Promise<void> {
  const problems = await startProblems(config, env);
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * The config at `file` as the server starts on it: loadConfig's checks, then startProblems', so `check-config`
 * and a refused start say the same. `textFile` as for loadConfig.
 */
export async function loadServableConfig(file: string, env: Record<string, string | undefined>, textFile?: string): Promise<Config> {
  const config = await loadConfig(file, env, textFile);
  await refuseUnservable(config, env);
  return config;
}
