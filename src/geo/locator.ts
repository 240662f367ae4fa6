// The port through which the HTTP layer learns where a client is; implemented by MaxMind (Node) and request.cf (Workers).

import type { ClientFacts } from '../core/model.js';

/** What a locator can tell about an address; every field may be missing. */
export type Location = Omit<ClientFacts, 'ip' | 'https'>;

export interface Locator {
  /** Synchronous and cheap (hot path); unknown, private or malformed addresses give {}. Never throws. */
  lookup(ip: string): Location;
}
