// Reads sponsor logos from disk once, so the interstitial serves them from memory.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { MirrorSpec } from '../core/model.js';
import type { Logo } from '../http/services.js';

const TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

export async function loadLogos(
  mirrors: readonly MirrorSpec[],
  log: { warn(obj: object, msg?: string): void },
): Promise<Map<string, Logo>> {
  const logos = new Map<string, Logo>();
  for (const m of mirrors) {
    const file = m.sponsor?.logo;
    if (!file) continue;
    const contentType = TYPES[path.extname(file).toLowerCase()];
    if (!contentType) continue;
    try {
      logos.set(m.id, { body: new Uint8Array(await readFile(file)), contentType });
    } catch (err) {
      log.warn({ mirror: m.id, file, err: (err as Error).message }, 'sponsor logo unreadable');
    }
  }
  return logos;
}
