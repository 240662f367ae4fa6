// The edge's one way of asking the control plane for snapshot bytes: bearer token, ETag, timeout.

export type Fetched =
  | { kind: 'bytes'; bytes: Uint8Array; etag: string | undefined }
  | { kind: 'not-modified'; etag: string | undefined }
  /** Any other status; the body is already discarded. */
  | { kind: 'status'; status: number };

/**
 * A conditional GET: 304 when `etag` still names the control plane's copy. Network errors and
 * timeouts reject; callers keep serving what they hold.
 */
export async function conditionalGet(
  fetchImpl: typeof fetch,
  url: string,
  opts: { accept: string; token?: string; etag?: string; timeoutMs: number },
): Promise<Fetched> {
  const headers: Record<string, string> = { Accept: opts.accept };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.etag) headers['If-None-Match'] = opts.etag;
  const res = await fetchImpl(url, { headers, signal: AbortSignal.timeout(opts.timeoutMs) });
  const etag = res.headers.get('etag') ?? undefined;
  if (res.status === 200) return { kind: 'bytes', bytes: new Uint8Array(await res.arrayBuffer()), etag };
  await res.body?.cancel();
  return res.status === 304 ? { kind: 'not-modified', etag } : { kind: 'status', status: res.status };
}
