// A minimal MaxMind DB (.mmdb) writer for tests: a few networks with small records, in either MaxMind's or DB-IP's shape.

import ipaddr from 'ipaddr.js';

/** Values the writer encodes: strings, maps, arrays, and numbers as uint32 (integers) or double (the rest). */
export type MmdbValue = string | number | boolean | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** "a.b.c.d/p" or "x::/p". */
  cidr: string;
  record: { [key: string]: MmdbValue };
}

export interface MmdbOptions {
  /** 6 (default) holds both families, IPv4 at ::/96; 4 holds IPv4 only. */
  ipVersion?: 4 | 6;
  databaseType: string;
  /** Unix seconds. */
  buildEpoch: number;
  /** Encode non-integers as float32 (DB-IP's coordinates) instead of double. */
  floats?: boolean;
}

/** Follows the MaxMind DB File Format 2.0: search tree (24-bit records), 16-byte separator, data, metadata. Networks must not overlap. */
export function writeMmdb(networks: MmdbNetwork[], opts: MmdbOptions): Buffer {
  const ipVersion = opts.ipVersion ?? 6;
  const depth = ipVersion === 4 ? 32 : 128;
  type Node = { kids: [Child, Child] };
  type Child = Node | { data: number } | null;
  const root: Node = { kids: [null, null] };
  const data: Buffer[] = [];
  let dataSize = 0;
  for (const net of networks) {
    const encoded = encode(net.record, opts.floats ?? false);
    const offset = dataSize;
    data.push(encoded);
    dataSize += encoded.length;
    const bits = networkBits(net.cidr, ipVersion);
    let node = root;
    for (let i = 0; i < bits.length; i++) {
      const bit = bits[i]!;
      if (i === bits.length - 1) {
        node.kids[bit] = { data: offset };
      } else {
        let next = node.kids[bit];
        if (!next || !('kids' in next)) node.kids[bit] = next = { kids: [null, null] };
        node = next;
      }
    }
    if (bits.length > depth) throw new Error(`${net.cidr}: longer than the tree`);
  }
  // Number the nodes breadth-first, then write each node's two 24-bit records.
  const nodes: Node[] = [root];
  for (let i = 0; i < nodes.length; i++) for (const k of nodes[i]!.kids) if (k && 'kids' in k) nodes.push(k);
  const index = new Map(nodes.map((n, i) => [n, i]));
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 6);
  nodes.forEach((n, i) => {
    n.kids.forEach((k, side) => {
      const value = k === null ? nodeCount : 'kids' in k ? index.get(k)! : nodeCount + 16 + k.data;
      tree.writeUIntBE(value, i * 6 + side * 3, 3);
    });
  });
  const metadata = encode(
    {
      node_count: nodeCount,
      record_size: 24,
      ip_version: ipVersion,
      database_type: opts.databaseType,
      languages: [],
      binary_format_major_version: 2,
      binary_format_minor_version: 0,
      build_epoch: opts.buildEpoch,
      description: { en: 'test fixture' },
    },
    false,
  );
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'), metadata]);
}

function networkBits(cidr: string, ipVersion: 4 | 6): number[] {
  const [addr, len] = ipaddr.parseCIDR(cidr);
  const bytes = addr.toByteArray();
  let bits = bytes.flatMap((b) => [7, 6, 5, 4, 3, 2, 1, 0].map((s) => (b >> s) & 1)).slice(0, len);
  if (addr.kind() === 'ipv4' && ipVersion === 6) bits = [...new Array<number>(96).fill(0), ...bits];
  if (addr.kind() === 'ipv6' && ipVersion === 4) throw new Error(`${cidr}: IPv6 in an IPv4 tree`);
  return bits;
}

function control(type: number, size: number): Buffer {
  const ext = type > 7;
  const head = (ext ? 0 : type) << 5;
  let sizeBytes: number[] = [];
  let small = size;
  if (size >= 65_821) [small, sizeBytes] = [31, [(size - 65_821) >> 16, ((size - 65_821) >> 8) & 255, (size - 65_821) & 255]];
  else if (size >= 285) [small, sizeBytes] = [30, [(size - 285) >> 8, (size - 285) & 255]];
  else if (size >= 29) [small, sizeBytes] = [29, [size - 29]];
  return Buffer.from([head | small, ...(ext ? [type - 7] : []), ...sizeBytes]);
}

function encode(value: MmdbValue, floats: boolean): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === 'boolean') return control(14, value ? 1 : 0);
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) {
      const bytes: number[] = [];
      for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
      return Buffer.concat([control(6, bytes.length), Buffer.from(bytes)]);
    }
    if (floats) {
      const b = Buffer.alloc(4);
      b.writeFloatBE(value);
      return Buffer.concat([control(15, 4), b]);
    }
    const b = Buffer.alloc(8);
    b.writeDoubleBE(value);
    return Buffer.concat([control(3, 8), b]);
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map((v) => encode(v, floats))]);
  const entries = Object.entries(value);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, v]) => [encode(k, floats), encode(v, floats)])]);
}
