// What stops a valid config from serving, found before anything starts: the files and settings the schema takes on trust.
import type { Config } from '../config/load.js';
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
