// A synthetic mirror network the size of a big real one: ~40 projects laid out as their archives are
// (Debian pools, Fedora trees, ISO folders, source tarballs), mirrors with varied include/exclude globs,
// some with partial inventories, a realistic spread of live states, and clients from many places.
import { countryInfo } from '../../src/core/countries.js';
import type { HealthFacts, Overlay } from '../../src/core/mirrors.js';
import type { ClientFacts, InventoryEntry, MirrorSpec, OriginFile } from '../../src/core/model.js';
import type { Snapshot } from '../../src/core/snapshot.js';
import { random } from '../../load/scenarios.js';

type Style = 'deb' | 'rpm' | 'pkg' | 'iso' | 'tarball' | 'cran';

/** Project, how its archive is laid out, and its share of the file set (relative). */
const PROJECTS: readonly [string, Style, number][] = [
  ['debian', 'deb', 18],
  ['ubuntu', 'deb', 12],
  ['debian-security', 'deb', 2],
  ['linuxmint', 'deb', 1],
  ['kali', 'deb', 2],
  ['raspbian', 'deb', 2],
  ['mariadb', 'deb', 0.5],
  ['debian-cd', 'iso', 0.3],
  ['ubuntu-releases', 'iso', 0.2],
  ['tails', 'iso', 0.05],
  ['fedora', 'rpm', 10],
  ['epel', 'rpm', 4],
  ['centos-stream', 'rpm', 3],
  ['rocky', 'rpm', 3],
  ['almalinux', 'rpm', 3],
  ['opensuse', 'rpm', 6],
  ['postgresql', 'rpm', 0.5],
  ['archlinux', 'pkg', 3],
  ['alpine', 'pkg', 3],
  ['manjaro', 'pkg', 1.5],
  ['freebsd', 'pkg', 3],
  ['gentoo', 'tarball', 4],
  ['openbsd', 'tarball', 1],
  ['netbsd', 'tarball', 1],
  ['slackware', 'tarball', 1],
  ['gnu', 'tarball', 0.5],
  ['apache', 'tarball', 1],
  ['python', 'tarball', 1.5],
  ['cpan', 'tarball', 3],
  ['ctan', 'tarball', 3],
  ['cran', 'cran', 2],
  ['eclipse', 'tarball', 0.5],
  ['mozilla', 'tarball', 1],
  ['videolan', 'tarball', 0.3],
  ['kde', 'tarball', 1],
  ['gnome', 'tarball', 1],
  ['libreoffice', 'tarball', 0.3],
  ['blender', 'tarball', 0.1],
  ['qt', 'tarball', 0.5],
  ['kernel', 'tarball', 0.5],
];

/** Where mirrors are (relative counts): Europe and North America heavy, every continent present. */
const MIRROR_COUNTRIES: readonly [string, number][] = [
  ['US', 80],
  ['DE', 60],
  ['FR', 22],
  ['NL', 18],
  ['GB', 18],
  ['CN', 22],
  ['JP', 18],
  ['RU', 14],
  ['CA', 14],
  ['BR', 14],
  ['SE', 9],
  ['CZ', 8],
  ['PL', 9],
  ['IT', 9],
  ['ES', 7],
  ['CH', 8],
  ['AT', 6],
  ['FI', 6],
  ['NO', 5],
  ['DK', 4],
  ['KR', 8],
  ['TW', 8],
  ['IN', 9],
  ['SG', 6],
  ['HK', 4],
  ['ID', 5],
  ['VN', 4],
  ['TH', 4],
  ['AU', 12],
  ['NZ', 4],
  ['ZA', 6],
  ['KE', 3],
  ['NG', 2],
  ['EG', 2],
  ['AR', 5],
  ['CL', 4],
  ['CO', 3],
  ['MX', 4],
  ['UA', 5],
  ['RO', 5],
  ['HU', 4],
  ['GR', 4],
  ['PT', 4],
  ['BE', 4],
  ['IE', 3],
  ['TR', 5],
  ['IL', 3],
  ['IR', 4],
  ['KZ', 2],
  ['BD', 2],
];

/** Where clients are (relative counts, roughly internet users). */
const CLIENT_COUNTRIES: readonly [string, number][] = [
  ['CN', 100],
  ['IN', 80],
  ['US', 60],
  ['BR', 30],
  ['ID', 25],
  ['RU', 22],
  ['JP', 20],
  ['DE', 18],
  ['NG', 12],
  ['MX', 15],
  ['GB', 14],
  ['FR', 13],
  ['TR', 12],
  ['VN', 11],
  ['KR', 10],
  ['IR', 10],
  ['PH', 10],
  ['EG', 9],
  ['IT', 9],
  ['ES', 8],
  ['PL', 6],
  ['CA', 7],
  ['AR', 6],
  ['TH', 8],
  ['UA', 5],
  ['PK', 8],
  ['BD', 7],
  ['ZA', 6],
  ['AU', 5],
  ['NL', 4],
  ['SE', 2],
  ['CZ', 2],
  ['CH', 2],
  ['KE', 3],
  ['CO', 5],
  ['CL', 3],
  ['PE', 3],
  ['MY', 4],
  ['SA', 4],
  ['TW', 4],
  ['NZ', 1],
  ['SG', 1],
  ['IL', 2],
  ['RO', 2],
  ['HU', 2],
  ['GR', 2],
  ['PT', 2],
  ['BE', 2],
  ['FI', 1],
  ['NO', 1],
];

const SYLLABLES = [
  'lib',
  'gtk',
  'py',
  'ru',
  'bin',
  'ker',
  'nel',
  'x',
  'ssl',
  'core',
  'util',
  'net',
  'dev',
  'font',
  'qt',
  'perl',
  'doc',
  'data',
  'tool',
  'gnu',
  'ml',
  'db',
  'sql',
  'cups',
  'z',
  'xml',
  'audio',
  'video',
  'img',
  'mesa',
  'gl',
  'sys',
  'boot',
  'cfg',
  'web',
  'http',
  'mail',
  'tex',
  'go',
  'java',
];
const ARCHES = ['amd64', 'arm64', 'i386', 'armhf', 'ppc64el', 's390x', 'riscv64'];
const RPM_ARCHES = ['x86_64', 'aarch64', 'ppc64le', 's390x', 'noarch'];

function pickWeighted<T>(items: readonly [T, ...unknown[]][], weights: readonly number[], r: number): T {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = r * total;
  for (let i = 0; i < items.length; i++) {
    x -= weights[i]!;
    if (x < 0) return items[i]![0];
  }
  return items[items.length - 1]![0];
}

function logUniform(rnd: () => number, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rnd() * (Math.log(hi) - Math.log(lo))));
}

/** `count` distinct origin files across the projects, deterministic for a seed. */
export function syntheticFiles(count: number, seed = 1): OriginFile[] {
  const rnd = random(seed);
  const weights = PROJECTS.map((p) => p[2]);
  const names = Array.from({ length: 6_000 }, () => {
    const n = 1 + Math.floor(rnd() * 3);
    let s = '';
    for (let i = 0; i < n; i++) s += (i ? (rnd() < 0.3 ? '-' : '') : '') + SYLLABLES[Math.floor(rnd() * SYLLABLES.length)]!;
    return s;
  });
  const seen = new Set<string>();
  const out: OriginFile[] = [];
  const hex = () =>
    Math.floor(rnd() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  while (out.length < count) {
    const project = pickWeighted(PROJECTS, weights, rnd());
    const style = PROJECTS.find((p) => p[0] === project)![1];
    const pkg = names[Math.floor(rnd() * names.length)]!;
    const ver = `${Math.floor(rnd() * 12)}.${Math.floor(rnd() * 30)}.${Math.floor(rnd() * 200)}`;
    const testing = rnd() < 0.05;
    let path: string;
    let size: number;
    switch (style) {
      case 'deb': {
        const comp = rnd() < 0.8 ? 'main' : rnd() < 0.5 ? 'contrib' : 'non-free';
        const arch = rnd() < 0.15 ? 'source' : ARCHES[Math.floor(rnd() * ARCHES.length)]!;
        const file = arch === 'source' ? `${pkg}_${ver}.orig.tar.xz` : `${pkg}_${ver}-${1 + Math.floor(rnd() * 4)}_${arch}.deb`;
        path = `${project}/${testing ? 'testing' : 'pool'}/${comp}/${pkg[0]}/${pkg}/${file}`;
        size = logUniform(rnd, 2_000, 80_000_000);
        break;
      }
      case 'rpm': {
        const rel = 36 + Math.floor(rnd() * 6);
        const arch = RPM_ARCHES[Math.floor(rnd() * RPM_ARCHES.length)]!;
        const debug = rnd() < 0.1;
        path = `${project}/${testing ? 'testing' : 'releases'}/${rel}/Everything/${arch}/${debug ? 'debug/tree' : 'os'}/Packages/${pkg[0]}/${pkg}${debug ? '-debuginfo' : ''}-${ver}-${1 + Math.floor(rnd() * 3)}.fc${rel}.${arch}.rpm`;
        size = logUniform(rnd, 5_000, 120_000_000);
        break;
      }
      case 'pkg': {
        const repo = ['core', 'extra', 'community', 'main', 'ports'][Math.floor(rnd() * 5)]!;
        const arch = rnd() < 0.7 ? 'x86_64' : 'aarch64';
        path = `${project}/${testing ? 'testing' : repo}/os/${arch}/${pkg}-${ver}-${1 + Math.floor(rnd() * 3)}-${arch}.pkg.tar.zst${rnd() < 0.3 ? '.sig' : ''}`;
        size = path.endsWith('.sig') ? 566 : logUniform(rnd, 5_000, 200_000_000);
        break;
      }
      case 'iso': {
        const arch = ARCHES[Math.floor(rnd() * 3)]!;
        const kind = rnd() < 0.6 ? 'iso-cd' : rnd() < 0.5 ? 'iso-dvd' : 'jigdo-cd';
        const ext = kind === 'jigdo-cd' ? 'jigdo' : rnd() < 0.85 ? 'iso' : 'iso.torrent';
        path = `${project}/${testing ? 'testing' : ver}/${arch}/${kind}/${project}-${ver}-${arch}-${pkg}.${ext}`;
        size = ext === 'iso' ? logUniform(rnd, 300_000_000, 5_000_000_000) : logUniform(rnd, 10_000, 3_000_000);
        break;
      }
      case 'cran':
        path = `${project}/src/contrib/${testing ? 'testing/' : ''}${pkg}_${ver}.tar.gz`;
        size = logUniform(rnd, 5_000, 30_000_000);
        break;
      default: {
        const ext = ['tar.gz', 'tar.xz', 'tar.bz2', 'zip'][Math.floor(rnd() * 4)]!;
        path = `${project}/${testing ? 'testing' : 'releases'}/${pkg}/${pkg}-${ver}.${ext}${rnd() < 0.25 ? '.sig' : ''}`;
        size = path.endsWith('.sig') ? 833 : logUniform(rnd, 10_000, 900_000_000);
      }
    }
    if (seen.has(path)) continue;
    seen.add(path);
    const f: OriginFile = { path, size, mtime: 1_700_000_000 + Math.floor(rnd() * 60_000_000) };
    if (rnd() < 0.8) f.sha256 = hex() + hex() + hex() + hex() + hex() + hex() + hex() + hex();
    out.push(f);
  }
  return out;
}

/** `count` mirrors: 15 % carry everything, the rest a few projects (popular ones more often), some with excludes. */
export function syntheticMirrors(count: number, seed = 2): MirrorSpec[] {
  const rnd = random(seed);
  const countryWeights = MIRROR_COUNTRIES.map((c) => c[1]);
  const projectWeights = PROJECTS.map((p) => Math.sqrt(p[2]));
  const excludes = ['**/*.iso', '*/testing/**', '**/debug/**', '**/source/**'];
  return Array.from({ length: count }, (_, i): MirrorSpec => {
    const country = pickWeighted(MIRROR_COUNTRIES, countryWeights, rnd());
    const place = countryInfo(country)!;
    let include: string[];
    if (rnd() < 0.15) {
      include = ['**'];
    } else {
      const k = 1 + Math.floor(rnd() ** 2 * 12);
      const chosen = new Set<string>();
      while (chosen.size < k) chosen.add(pickWeighted(PROJECTS, projectWeights, rnd()));
      // Some carry only one architecture of the disc images: a glob picomatch has to answer.
      include = [...chosen].sort().map((p) => (PROJECTS.find((x) => x[0] === p)![1] === 'iso' && rnd() < 0.4 ? `${p}/*/amd64/**` : `${p}/**`));
    }
    const exclude = rnd() < 0.25 ? [excludes[Math.floor(rnd() * excludes.length)]!] : [];
    const id = `m${String(i).padStart(3, '0')}-${country.toLowerCase()}`;
    const bandwidth = [1000, 2000, 5000, 10000, 40000][Math.floor(rnd() * 5)]!;
    return {
      id,
      name: `Mirror ${i} (${place.name})`,
      baseUrl: `${rnd() < 0.85 ? 'https' : 'http'}://mirror${i}.${country.toLowerCase()}.example.org/pub/`,
      rsyncUrl: `rsync://mirror${i}.${country.toLowerCase()}.example.org/pub/`,
      country,
      lat: place.lat + (rnd() - 0.5) * 4,
      lon: place.lon + (rnd() - 0.5) * 4,
      asn: [64_512 + i],
      weight: bandwidth / 100,
      bandwidthMbps: bandwidth,
      countryOnly: rnd() < 0.02,
      enabled: rnd() > 0.01,
      ...(rnd() < 0.6 ? { sponsor: { name: `Sponsor ${i}`, url: `https://sponsor${i}.example.org/` } } : {}),
      content: { include, exclude },
    };
  });
}

/** Live facts as probes leave them: mostly up and in sync, a few down, lagging or missing files. */
export function syntheticHealth(mirrors: readonly MirrorSpec[], samplePaths: readonly string[], nowMs: number, seed = 3): Map<string, HealthFacts> {
  const rnd = random(seed);
  const out = new Map<string, HealthFacts>();
  const nowS = Math.floor(nowMs / 1000);
  for (const m of mirrors) {
    const r = rnd();
    if (r < 0.04) continue; // never probed yet: unknown
    if (r < 0.07) {
      out.set(m.id, { health: 'down', reason: 'connection refused' });
      continue;
    }
    const lag = r < 0.09 ? 30_000 + Math.floor(rnd() * 100_000) : Math.floor(rnd() * 7_200);
    const facts: HealthFacts = { health: 'up', lagSeconds: lag, lastSync: nowS - lag };
    if (rnd() < 0.02) facts.missing = [0, 1, 2].map(() => samplePaths[Math.floor(rnd() * samplePaths.length)]!);
    out.set(m.id, facts);
  }
  return out;
}

/** Staff changes: 1 % of mirrors draining (mid-ramp). */
export function syntheticOverlays(mirrors: readonly MirrorSpec[], nowMs: number, seed = 4): Map<string, Overlay> {
  const rnd = random(seed);
  const out = new Map<string, Overlay>();
  for (const m of mirrors) if (rnd() < 0.01) out.set(m.id, { patch: {}, drain: { startMs: nowMs - 600_000, overMs: 3_600_000 } });
  return out;
}

/**
 * What a mirror with a partial inventory lists: each file its rules cover with probability `keep`,
 * and a few stale copies (another size) that must not count.
 */
export function* partialInventory(snapshot: Snapshot, mirrorIndex: number, keep: number, seed: number): Generator<InventoryEntry> {
  const rnd = random(seed);
  const { files, rules } = snapshot;
  const bit = snapshot.mirrors[mirrorIndex]!.ruleBit;
  if (bit < 0) return;
  const word = bit >>> 5;
  const mask = 1 << (bit & 31);
  for (let f = 0; f < files.count; f++) {
    if ((rules.membership[rules.fileClass[f]!]![word]! & mask) === 0) continue;
    const r = rnd();
    if (r >= keep) continue;
    const mtime = files.mtime(f);
    yield { path: files.paths[f]!, size: r < 0.005 ? files.size(f) + 1 : files.size(f), ...(mtime !== undefined ? { mtime } : {}) };
  }
}

/** Clients: country by internet population, position near its centre, some in a mirror's own network, 70 % over HTTPS. */
export function syntheticClients(count: number, mirrors: readonly MirrorSpec[], seed = 5): ClientFacts[] {
  const rnd = random(seed);
  const weights = CLIENT_COUNTRIES.map((c) => c[1]);
  const byCountry = new Map<string, MirrorSpec[]>();
  for (const m of mirrors) byCountry.set(m.country, [...(byCountry.get(m.country) ?? []), m]);
  return Array.from({ length: count }, (): ClientFacts => {
    const country = pickWeighted(CLIENT_COUNTRIES, weights, rnd());
    const place = countryInfo(country)!;
    const local = byCountry.get(country);
    const asn = local && rnd() < 0.05 ? local[Math.floor(rnd() * local.length)]!.asn[0] : 3_000 + Math.floor(rnd() * 60_000);
    return {
      ip: `${1 + Math.floor(rnd() * 222)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`,
      country,
      continent: place.continent,
      lat: place.lat + (rnd() - 0.5) * 6,
      lon: place.lon + (rnd() - 0.5) * 6,
      ...(asn !== undefined ? { asn } : {}),
      https: rnd() < 0.7,
    };
  });
}
