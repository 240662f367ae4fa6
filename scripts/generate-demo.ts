/**
 * Writes the bundled demo network's data: the origin manifest (data/manifest.jsonl)
 * and the real inventories of three mirrors (data/mirrors/<id>.jsonl).
 *
 * Deterministic: every size, mtime and hash derives from a fixed seed, a fixed base
 * timestamp and the file's path, so running it twice gives byte-identical output and
 * adding a file never reshuffles the others. Only node:* built-ins are used.
 *
 * Usage: npm run demo:generate   (= tsx scripts/generate-demo.ts)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SEED = 'mirrorgate-demo-v1';
/** "Now" for the demo world: every mtime is at or before this instant. */
const BASE = Date.UTC(2026, 9, 1, 0, 0, 0) / 1000; // 2026-10-01T00:00:00Z

const HOUR = 3600;
const DAY = 86400;
const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(root, 'data');

// ---------------------------------------------------------------------------
// Deterministic randomness, keyed by path so each file's facts are stable.

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

type Rng = () => number;

/** sfc32, seeded from SHA-256(SEED + key). */
function rngFor(key: string): Rng {
  const h = createHash('sha256').update(`${SEED}\u0000${key}`, 'utf8').digest();
  let a = h.readUInt32LE(0);
  let b = h.readUInt32LE(4);
  let c = h.readUInt32LE(8);
  let d = h.readUInt32LE(12);
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

function intBetween(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** A size around `center`, ± `spread` (fraction), stable for the path. */
function around(path: string, center: number, spread = 0.12): number {
  const r = rngFor(`size:${path}`)();
  return Math.max(1, Math.round(center * (1 - spread + 2 * spread * r)));
}

function between(path: string, lo: number, hi: number): number {
  return intBetween(rngFor(`size:${path}`), lo, hi);
}

/** Epoch seconds of an ISO date, plus a stable per-path jitter of up to `jitter` s. */
function when(iso: string, path: string, jitter = 2 * HOUR): number {
  const t = Date.parse(iso) / 1000;
  if (Number.isNaN(t)) throw new Error(`bad date ${iso}`);
  return t + intBetween(rngFor(`mtime:${path}`), 0, jitter);
}

// ---------------------------------------------------------------------------
// The origin tree.

interface OriginFile {
  path: string;
  size: number;
  mtime: number;
  sha256: string;
}

/** Checksum-list files whose size is computed from the other files in their folder. */
interface SumsFile {
  path: string;
  mtime: number;
  /** bytes per listed file, excluding the file name */
  perLine: number;
  /** fixed overhead (signed-message armour, headers) */
  overhead: number;
  /** formats "SHA256 (name) = hex" lists the name in parentheses */
  bsdStyle: boolean;
}

const files = new Map<string, OriginFile>();
const sumsFiles: SumsFile[] = [];

function add(rawPath: string, size: number, mtime: number): string {
  const path = rawPath.normalize('NFC');
  if (files.has(path)) throw new Error(`duplicate path ${path}`);
  if (path.startsWith('/') || path.includes('//') || path.includes('\\') || path.includes('..')) {
    throw new Error(`bad path ${path}`);
  }
  if (mtime > BASE) throw new Error(`mtime after base for ${path}`);
  files.set(path, { path, size, mtime, sha256: sha256Hex(`${SEED}:${path}`) });
  return path;
}

const HASH_HEX_LENGTH: Record<string, number> = { '.md5': 32, '.sha1': 40, '.sha256': 64, '.sha512': 128 };

/** A detached signature or one-file checksum, written a few minutes after the file it covers. */
function sig(path: string, ext: string, mtime: number, size?: number): void {
  const p = `${path}${ext}`;
  const defaults: Record<string, [number, number]> = {
    '.sig': [566, 566], // binary OpenPGP, RSA 4096
    '.asc': [833, 866], // armoured OpenPGP
    '.sign': [833, 833],
    '.gpg': [833, 833],
    '.sigstore': [9100, 9900],
    '.md5': [0, 0],
    '.sha1': [0, 0],
    '.sha256': [0, 0],
    '.sha512': [0, 0],
  };
  const range = defaults[ext];
  if (!range) throw new Error(`unknown signature kind ${ext}`);
  const base = path.slice(path.lastIndexOf('/') + 1);
  const hexLen = HASH_HEX_LENGTH[ext];
  const computed = hexLen ? hexLen + 2 + Buffer.byteLength(base) + 1 : between(p, range[0], range[1]);
  add(p, size ?? computed, mtime + intBetween(rngFor(`sigdelay:${p}`), 60, 900));
}

function sums(dir: string, name: string, mtime: number, hexLen: number, bsdStyle = false, overhead = 0): string {
  const path = `${dir}/${name}`.normalize('NFC');
  sumsFiles.push({ path, mtime, perLine: bsdStyle ? hexLen + 12 : hexLen + 3, overhead, bsdStyle });
  return path;
}

/** A .torrent's size follows from the payload: 20 bytes per 256 KiB piece plus metadata. */
function torrentSize(payload: number, name: string): number {
  return 20 * Math.ceil(payload / (256 * KB)) + 280 + 2 * name.length;
}

// ---------------------------------------------------------------------------
// debian-cd

interface DebianRelease {
  version: string;
  date: string;
  archs: string[];
}

const debianReleases: DebianRelease[] = [
  { version: '12.8.0', date: '2024-11-09T14:10:00Z', archs: ['amd64', 'arm64', 'armhf', 'i386', 'ppc64el', 's390x'] },
  { version: '12.12.0', date: '2025-09-06T13:40:00Z', archs: ['amd64', 'arm64', 'i386'] },
  { version: '13.7.0', date: '2026-09-12T12:50:00Z', archs: ['amd64', 'arm64', 'armhf', 'ppc64el', 'riscv64', 's390x'] },
];

const netinstSize: Record<string, number> = {
  amd64: 660 * MB,
  arm64: 560 * MB,
  armhf: 520 * MB,
  i386: 650 * MB,
  ppc64el: 430 * MB,
  riscv64: 470 * MB,
  s390x: 300 * MB,
};

function debianSums(dir: string, mtime: number): void {
  sums(dir, 'SHA256SUMS', mtime, 64);
  sig(`${dir}/SHA256SUMS`, '.sign', mtime);
  sums(dir, 'SHA512SUMS', mtime, 128);
  sig(`${dir}/SHA512SUMS`, '.sign', mtime);
}

function genDebian(): void {
  for (const rel of debianReleases) {
    const v = rel.version;
    for (const arch of rel.archs) {
      const base = `debian-cd/${v}/${arch}`;
      const t = when(rel.date, base, 3 * HOUR);
      const cd = [`debian-${v}-${arch}-netinst.iso`];
      if (arch === 'amd64') cd.push(`debian-edu-${v}-amd64-netinst.iso`, `debian-mac-${v}-amd64-netinst.iso`);
      const cdSizes = new Map<string, number>();
      for (const name of cd) {
        const size = around(`${base}/iso-cd/${name}`, netinstSize[arch] ?? 500 * MB, 0.06);
        cdSizes.set(name, size);
        add(`${base}/iso-cd/${name}`, size, t);
      }
      debianSums(`${base}/iso-cd`, t);
      for (const [name, size] of cdSizes) add(`${base}/bt-cd/${name}.torrent`, torrentSize(size, name), t);
      debianSums(`${base}/bt-cd`, t);
      for (const name of cd) {
        const stem = name.replace(/\.iso$/, '');
        add(`${base}/jigdo-cd/${stem}.jigdo`, between(`${base}/jigdo-cd/${stem}.jigdo`, 18 * KB, 40 * KB), t);
        add(`${base}/jigdo-cd/${stem}.template`, between(`${base}/jigdo-cd/${stem}.template`, 4 * MB, 12 * MB), t);
        add(`${base}/list-cd/${stem}.list.gz`, between(`${base}/list-cd/${stem}.list.gz`, 6 * KB, 14 * KB), t);
      }
      debianSums(`${base}/jigdo-cd`, t);

      // DVD images for the big architectures; only DVD-1 is built as an ISO, the rest as jigdo.
      const dvdCount = arch === 'amd64' ? 12 : arch === 'arm64' ? 8 : arch === 'i386' ? 6 : 0;
      if (dvdCount > 0) {
        const dvd1 = `debian-${v}-${arch}-DVD-1.iso`;
        const dvdSize = around(`${base}/iso-dvd/${dvd1}`, 3.85 * GB, 0.05);
        add(`${base}/iso-dvd/${dvd1}`, dvdSize, t);
        debianSums(`${base}/iso-dvd`, t);
        add(`${base}/bt-dvd/${dvd1}.torrent`, torrentSize(dvdSize, dvd1), t);
        debianSums(`${base}/bt-dvd`, t);
        for (let n = 1; n <= dvdCount; n++) {
          const stem = `debian-${v}-${arch}-DVD-${n}`;
          add(`${base}/jigdo-dvd/${stem}.jigdo`, between(`${base}/jigdo-dvd/${stem}.jigdo`, 60 * KB, 180 * KB), t);
          add(`${base}/jigdo-dvd/${stem}.template`, between(`${base}/jigdo-dvd/${stem}.template`, 12 * MB, 48 * MB), t);
          add(`${base}/list-dvd/${stem}.list.gz`, between(`${base}/list-dvd/${stem}.list.gz`, 40 * KB, 120 * KB), t);
        }
        debianSums(`${base}/jigdo-dvd`, t);
      }
    }

    // Live images (amd64 only, as upstream).
    const live = `debian-cd/${v}-live/amd64`;
    const tl = when(rel.date, live, 5 * HOUR);
    const flavours: [string, number][] = [
      ['cinnamon', 3.1 * GB],
      ['gnome', 3.3 * GB],
      ['kde', 3.5 * GB],
      ['lxde', 2.8 * GB],
      ['lxqt', 2.9 * GB],
      ['mate', 3.0 * GB],
      ['standard', 1.45 * GB],
      ['xfce', 2.9 * GB],
    ];
    for (const [flavour, center] of flavours) {
      const name = `debian-live-${v}-amd64-${flavour}`;
      const p = `${live}/iso-hybrid/${name}.iso`;
      const size = around(p, center, 0.05);
      add(p, size, tl);
      add(`${live}/iso-hybrid/${name}.contents`, between(`${p}.c`, 30 * KB, 90 * KB), tl);
      add(`${live}/iso-hybrid/${name}.log`, between(`${p}.l`, 1 * MB, 3 * MB), tl);
      add(`${live}/iso-hybrid/${name}.packages`, between(`${p}.p`, 40 * KB, 160 * KB), tl);
      add(`${live}/bt-hybrid/${name}.iso.torrent`, torrentSize(size, `${name}.iso`), tl);
    }
    debianSums(`${live}/iso-hybrid`, tl);
    debianSums(`${live}/bt-hybrid`, tl);
  }
}

// ---------------------------------------------------------------------------
// ubuntu-releases: one folder per series, holding its latest point release.

function genUbuntu(): void {
  const series: { series: string; point: string; date: string; extra?: boolean }[] = [
    { series: '22.04', point: '22.04.5', date: '2024-09-12T17:20:00Z' },
    { series: '24.04', point: '24.04.4', date: '2026-02-12T18:05:00Z', extra: true },
    { series: '26.04', point: '26.04.1', date: '2026-08-06T17:45:00Z', extra: true },
  ];
  for (const s of series) {
    const dir = `ubuntu-releases/${s.series}`;
    const t = when(s.date, dir, 2 * HOUR);
    const images: [string, number][] = [
      [`ubuntu-${s.point}-desktop-amd64.iso`, s.series === '22.04' ? 4.7 * GB : 5.9 * GB],
      [`ubuntu-${s.point}-live-server-amd64.iso`, s.series === '22.04' ? 2.0 * GB : 3.0 * GB],
    ];
    for (const [name, center] of images) {
      const p = `${dir}/${name}`;
      const size = around(p, center, 0.04);
      add(p, size, t);
      add(`${p}.torrent`, torrentSize(size, name), t);
      add(`${p}.zsync`, Math.round(size / 2048) * 4 + 200, t);
      add(`${dir}/${name.replace(/\.iso$/, '.manifest')}`, between(`${p}.m`, 20 * KB, 75 * KB), t);
      add(`${dir}/${name.replace(/\.iso$/, '.list')}`, between(`${p}.l`, 8 * KB, 40 * KB), t);
    }
    if (s.extra) add(`${dir}/ubuntu-${s.point}-netboot-amd64.tar.gz`, around(`${dir}/netboot`, 85 * MB), t);
    sums(dir, 'SHA256SUMS', t, 64);
    sig(`${dir}/SHA256SUMS`, '.gpg', t);
    add(`${dir}/HEADER.html`, between(`${dir}/HEADER.html`, 4 * KB, 6 * KB), t);
    add(`${dir}/FOOTER.html`, between(`${dir}/FOOTER.html`, 1 * KB, 2 * KB), t);
  }
}

// ---------------------------------------------------------------------------
// fedora: releases (editions, spins, cloud, a slice of Everything) and updates.

/** [name, version, release, arch, approx size] — a representative slice of a Fedora tree. */
const fedoraPackages: [string, string, string, string, number][] = [
  ['bash', '5.2.32', '1', 'x86_64', 1.8 * MB],
  ['coreutils', '9.5', '6', 'x86_64', 1.2 * MB],
  ['curl', '8.9.1', '2', 'x86_64', 310 * KB],
  ['dnf5', '5.2.6.2', '1', 'x86_64', 680 * KB],
  ['firefox', '132.0', '1', 'x86_64', 72 * MB],
  ['gcc', '14.2.1', '3', 'x86_64', 36 * MB],
  ['git', '2.47.0', '1', 'x86_64', 55 * KB],
  ['git-core', '2.47.0', '1', 'x86_64', 5.1 * MB],
  ['glibc', '2.40', '9', 'x86_64', 2.2 * MB],
  ['gnome-shell', '47.1', '1', 'x86_64', 1.7 * MB],
  ['gtk4', '4.16.3', '1', 'x86_64', 5.4 * MB],
  ['kernel', '6.11.4', '301', 'x86_64', 140 * KB],
  ['kernel-core', '6.11.4', '301', 'x86_64', 17 * MB],
  ['kernel-modules', '6.11.4', '301', 'x86_64', 62 * MB],
  ['libreoffice-core', '24.8.2.1', '2', 'x86_64', 101 * MB],
  ['llvm-libs', '19.1.0', '1', 'x86_64', 29 * MB],
  ['mesa-dri-drivers', '24.2.4', '1', 'x86_64', 24 * MB],
  ['NetworkManager', '1.48.10', '1', 'x86_64', 2.3 * MB],
  ['openssh', '9.8p1', '3', 'x86_64', 420 * KB],
  ['openssl', '3.2.2', '9', 'x86_64', 1.1 * MB],
  ['perl-interpreter', '5.40.0', '511', 'x86_64', 72 * KB],
  ['pipewire', '1.2.6', '1', 'x86_64', 130 * KB],
  ['python3', '3.13.0', '1', 'x86_64', 28 * KB],
  ['python3-libs', '3.13.0', '1', 'x86_64', 9.8 * MB],
  ['rpm', '4.20.0', '1', 'x86_64', 540 * KB],
  ['rust', '1.81.0', '1', 'x86_64', 31 * MB],
  ['systemd', '256.7', '1', 'x86_64', 5.4 * MB],
  ['systemd-libs', '256.7', '1', 'x86_64', 720 * KB],
  ['thunderbird', '128.3.1', '1', 'x86_64', 68 * MB],
  ['vim-enhanced', '9.1.785', '1', 'x86_64', 2.0 * MB],
  ['wireshark-cli', '4.4.1', '1', 'x86_64', 19 * MB],
  ['xorg-x11-server-Xwayland', '24.1.3', '1', 'x86_64', 1.3 * MB],
  ['zstd', '1.5.6', '2', 'x86_64', 480 * KB],
  ['zsh', '5.9', '15', 'x86_64', 3.4 * MB],
  ['adwaita-icon-theme', '47.0', '1', 'noarch', 420 * KB],
  ['ca-certificates', '2024.2.69_v8.0.401', '1.0', 'noarch', 880 * KB],
  ['dejavu-sans-fonts', '2.37', '24', 'noarch', 1.3 * MB],
  ['fedora-release', '41', '29', 'noarch', 11 * KB],
  ['google-noto-sans-cjk-vf-fonts', '2.004', '9', 'noarch', 45 * MB],
  ['hicolor-icon-theme', '0.17', '19', 'noarch', 45 * KB],
  ['langpacks-core-en', '4.1', '4', 'noarch', 10 * KB],
  ['linux-firmware', '20241017', '1', 'noarch', 38 * MB],
  ['python3-pip', '24.2', '1', 'noarch', 2.8 * MB],
  ['tzdata', '2024b', '1', 'noarch', 430 * KB],
  ['xkeyboard-config', '2.42', '2', 'noarch', 1.0 * MB],
  ['yum', '4.21.1', '1', 'noarch', 38 * KB],
];

function fedoraRel(release: string, v: number): string {
  return `${release}.fc${v}`;
}

/** Bump the last number of a version by `n` so successive releases carry newer builds. */
function bump(version: string, n: number): string {
  return version.replace(/(\d+)(?!.*\d)/, (d) => String(Number(d) + n));
}

function genFedora(): void {
  const releases: { v: number; compose: string; date: string; kdeEdition: boolean }[] = [
    { v: 41, compose: '1.4', date: '2024-10-29T14:00:00Z', kdeEdition: false },
    { v: 42, compose: '1.1', date: '2025-04-15T14:00:00Z', kdeEdition: true },
    { v: 43, compose: '1.6', date: '2025-10-28T14:00:00Z', kdeEdition: true },
    { v: 44, compose: '1.7', date: '2026-04-21T14:00:00Z', kdeEdition: true },
  ];
  for (const [i, r] of releases.entries()) {
    const rel = `fedora/releases/${r.v}`;
    const id = `${r.v}-${r.compose}`;
    const t = when(r.date, rel, 1 * HOUR);
    const checksum = (dir: string, label: string) =>
      sums(dir, `Fedora-${label}-${id}-${dir.includes('aarch64') ? 'aarch64' : 'x86_64'}-CHECKSUM`, t, 64, true, 1400);

    for (const arch of ['x86_64', 'aarch64']) {
      const dir = `${rel}/Everything/${arch}/iso`;
      add(`${dir}/Fedora-Everything-netinst-${arch}-${id}.iso`, around(`${dir}/netinst`, 880 * MB, 0.05), t);
      checksum(dir, 'Everything');
      const sdir = `${rel}/Server/${arch}/iso`;
      add(`${sdir}/Fedora-Server-dvd-${arch}-${id}.iso`, around(`${sdir}/dvd`, 2.6 * GB, 0.06), t);
      add(`${sdir}/Fedora-Server-netinst-${arch}-${id}.iso`, around(`${sdir}/netinst`, 880 * MB, 0.05), t);
      checksum(sdir, 'Server');
      const wdir = arch === 'x86_64' ? `${rel}/Workstation/x86_64/iso` : `${rel}/Workstation/aarch64/images`;
      if (arch === 'x86_64') add(`${wdir}/Fedora-Workstation-Live-x86_64-${id}.iso`, around(`${wdir}/live`, 2.3 * GB, 0.04), t);
      else add(`${wdir}/Fedora-Workstation-${id}.aarch64.raw.xz`, around(`${wdir}/raw`, 2.9 * GB, 0.05), t);
      checksum(wdir, 'Workstation');
    }
    if (r.kdeEdition) {
      const kdir = `${rel}/KDE/x86_64/iso`;
      add(`${kdir}/Fedora-KDE-Desktop-Live-x86_64-${id}.iso`, around(`${kdir}/live`, 2.7 * GB, 0.04), t);
      checksum(kdir, 'KDE');
    }
    const spinDir = `${rel}/Spins/x86_64/iso`;
    const spins = ['Xfce', 'LXQt', 'Cinnamon', 'MATE_Compiz', 'i3', 'Sway', 'Budgie', 'SoaS'];
    if (!r.kdeEdition) spins.unshift('KDE');
    for (const spin of spins) {
      add(`${spinDir}/Fedora-${spin}-Live-x86_64-${id}.iso`, around(`${spinDir}/${spin}`, spin === 'SoaS' ? 1.3 * GB : 2.2 * GB, 0.12), t);
    }
    checksum(spinDir, 'Spins');
    const cloud = `${rel}/Cloud/x86_64/images`;
    add(`${cloud}/Fedora-Cloud-Base-Generic-${id}.x86_64.qcow2`, around(`${cloud}/q`, 520 * MB), t);
    add(`${cloud}/Fedora-Cloud-Base-AmazonEC2-${id}.x86_64.raw.xz`, around(`${cloud}/ec2`, 420 * MB), t);
    add(`${cloud}/Fedora-Cloud-Base-Azure-${id}.x86_64.vhdfixed.xz`, around(`${cloud}/az`, 450 * MB), t);
    add(`${cloud}/Fedora-Cloud-Base-Vagrant-libvirt-${id}.x86_64.vagrant.libvirt.box`, around(`${cloud}/vl`, 560 * MB), t);
    checksum(cloud, 'Cloud');
    const container = `${rel}/Container/x86_64/images`;
    add(`${container}/Fedora-Container-Base-Generic-${id}.x86_64.oci.tar.xz`, around(`${container}/b`, 62 * MB), t);
    add(`${container}/Fedora-Container-Minimal-Base-${id}.x86_64.oci.tar.xz`, around(`${container}/m`, 38 * MB), t);
    checksum(container, 'Container');

    // A slice of the Everything tree, with its install tree metadata (including the
    // dot-file .treeinfo, which mirrors carry like any other file).
    const os = `${rel}/Everything/x86_64/os`;
    for (const [name, version, release, arch, approx] of fedoraPackages) {
      const ver = name === 'fedora-release' ? String(r.v) : bump(version, i);
      const file = `${name}-${ver}-${fedoraRel(release, r.v)}.${arch}.rpm`;
      const p = `${os}/Packages/${name[0]!.toLowerCase()}/${file}`;
      add(p, around(p, approx, 0.1), t - intBetween(rngFor(`built:${p}`), 2 * DAY, 30 * DAY));
      const src = `${rel}/Everything/source/tree/Packages/${name[0]!.toLowerCase()}/${name}-${ver}-${fedoraRel(release, r.v)}.src.rpm`;
      if (arch === 'x86_64' && !files.has(src)) add(src, around(src, approx * 1.6, 0.3), t - intBetween(rngFor(`built:${src}`), 2 * DAY, 30 * DAY));
    }
    add(`${os}/images/install.img`, around(`${os}/install.img`, 720 * MB), t);
    add(`${os}/images/pxeboot/vmlinuz`, around(`${os}/vmlinuz`, 16 * MB), t);
    add(`${os}/images/pxeboot/initrd.img`, around(`${os}/initrd`, 150 * MB), t);
    add(`${os}/.treeinfo`, between(`${os}/.treeinfo`, 1200, 1600), t);
    add(`${os}/repodata/repomd.xml`, between(`${os}/repomd`, 3 * KB, 5 * KB), t);
    for (const [kind, center] of [
      ['primary.xml.zst', 12 * MB],
      ['filelists.xml.zst', 48 * MB],
      ['other.xml.zst', 9 * MB],
      ['comps-Everything.x86_64.xml.xz', 420 * KB],
    ] as const) {
      const hex = sha256Hex(`${os}/${kind}`);
      add(`${os}/repodata/${hex}-${kind}`, around(`${os}/${kind}`, center), t);
    }
  }

  // Updates are pushed daily; the last few are hours old and not on every mirror yet.
  for (const v of [43, 44]) {
    const dir = `fedora/updates/${v}/Everything/x86_64`;
    let latest = 0;
    for (const [k, [name, version, release, arch, approx]] of fedoraPackages.entries()) {
      if (name === 'fedora-release' || k % 2 === (v === 43 ? 0 : 1)) continue;
      const ver = bump(version, v - 41 + 1);
      const file = `${name}-${ver}-${fedoraRel(String(Number(release.split('.')[0]) + 1), v)}.${arch}.rpm`;
      const p = `${dir}/Packages/${name[0]!.toLowerCase()}/${file}`;
      const rng = rngFor(`push:${p}`);
      // Most pushes in the last three weeks; a handful in the last day.
      const age = rng() < 0.2 ? intBetween(rng, 40 * 60, 20 * HOUR) : intBetween(rng, 1 * DAY, 21 * DAY);
      const mtime = BASE - age;
      latest = Math.max(latest, mtime);
      add(p, around(p, approx, 0.1), mtime);
    }
    add(`${dir}/repodata/repomd.xml`, between(`${dir}/repomd`, 3 * KB, 5 * KB), latest + 300);
    add(`${dir}/repodata/${sha256Hex(`${dir}/${latest}`)}-updateinfo.xml.zst`, around(`${dir}/updateinfo`, 1.4 * MB), latest + 300);
  }
}

// ---------------------------------------------------------------------------
// archlinux: monthly ISOs and the core/extra repositories.

/** [name, epoch:pkgver-pkgrel, arch, approx size] */
const archCore: [string, string, string, number][] = [
  ['acl', '2.3.2-1', 'x86_64', 140 * KB],
  ['archlinux-keyring', '20260912-1', 'any', 1.2 * MB],
  ['attr', '2.5.2-1', 'x86_64', 70 * KB],
  ['base', '3-2', 'any', 2 * KB],
  ['bash', '5.3.3-2', 'x86_64', 1.9 * MB],
  ['binutils', '2.45+r29+g2b2e51a31ec7-1', 'x86_64', 7.6 * MB],
  ['bzip2', '1.0.8-6', 'x86_64', 45 * KB],
  ['ca-certificates', '20240618-1', 'any', 3 * KB],
  ['coreutils', '9.8-2', 'x86_64', 2.9 * MB],
  ['curl', '8.16.0-1', 'x86_64', 1.1 * MB],
  ['dbus', '1.16.2-1', 'x86_64', 270 * KB],
  ['e2fsprogs', '1.47.3-1', 'x86_64', 1.3 * MB],
  ['file', '5.46-5', 'x86_64', 850 * KB],
  ['filesystem', '2025.05.03-1', 'any', 14 * KB],
  ['gawk', '5.3.2-1', 'x86_64', 1.2 * MB],
  ['gcc', '15.2.1+r22+gc4e96a094636-1', 'x86_64', 58 * MB],
  ['gcc-libs', '15.2.1+r22+gc4e96a094636-1', 'x86_64', 36 * MB],
  ['glibc', '2.42+r17+gd7274d718e6f-1', 'x86_64', 10.6 * MB],
  ['gnupg', '2.4.8-2', 'x86_64', 2.8 * MB],
  ['grep', '3.12-2', 'x86_64', 260 * KB],
  ['grub', '2:2.12.r292.g73d1c959e-1', 'x86_64', 7.8 * MB],
  ['gzip', '1.14-2', 'x86_64', 90 * KB],
  ['iproute2', '6.16.0-1', 'x86_64', 1.4 * MB],
  ['iptables', '1:1.8.11-2', 'x86_64', 410 * KB],
  ['iputils', '20250605-1', 'x86_64', 140 * KB],
  ['less', '1:679-1', 'x86_64', 140 * KB],
  ['linux', '6.16.9.arch1-1', 'x86_64', 145 * MB],
  ['linux-firmware', '20250917-1', 'any', 8 * KB],
  ['linux-lts', '6.12.49-1', 'x86_64', 130 * MB],
  ['make', '4.4.1-2', 'x86_64', 520 * KB],
  ['man-db', '2.13.1-1', 'x86_64', 1.3 * MB],
  ['mkinitcpio', '40-3', 'any', 50 * KB],
  ['nano', '8.6-1', 'x86_64', 620 * KB],
  ['openssh', '10.0p1-4', 'x86_64', 1.4 * MB],
  ['openssl', '3.5.3-1', 'x86_64', 5.1 * MB],
  ['pacman', '7.0.0.r6.gc685ae6-6', 'x86_64', 940 * KB],
  ['pacman-mirrorlist', '20250808-1', 'any', 8 * KB],
  ['perl', '5.42.0-1', 'x86_64', 15 * MB],
  ['python', '3.13.7-1', 'x86_64', 27 * MB],
  ['sed', '4.9-3', 'x86_64', 230 * KB],
  ['sudo', '1.9.17.p2-1', 'x86_64', 1.9 * MB],
  ['systemd', '258-1', 'x86_64', 9.8 * MB],
  ['systemd-libs', '258-1', 'x86_64', 1.4 * MB],
  ['tar', '1.35-2', 'x86_64', 900 * KB],
  ['tzdata', '2025b-1', 'x86_64', 320 * KB],
  ['util-linux', '2.41.2-1', 'x86_64', 5.6 * MB],
  ['vi', '1:070224-6', 'x86_64', 150 * KB],
  ['which', '2.23-1', 'x86_64', 20 * KB],
  ['xz', '5.8.1-1', 'x86_64', 500 * KB],
  ['zlib', '1:1.3.1-2', 'x86_64', 90 * KB],
  ['zstd', '1.5.7-2', 'x86_64', 520 * KB],
];
const archExtra: [string, string, string, number][] = [
  ['firefox', '143.0.1-1', 'x86_64', 78 * MB],
  ['thunderbird', '143.0-1', 'x86_64', 74 * MB],
  ['chromium', '140.0.7339.185-1', 'x86_64', 110 * MB],
  ['libreoffice-fresh', '26.8.1-2', 'x86_64', 160 * MB],
  ['vlc', '3.0.21-21', 'x86_64', 6.2 * MB],
  ['gimp', '3.0.4-3', 'x86_64', 28 * MB],
  ['inkscape', '1.4.2-4', 'x86_64', 32 * MB],
  ['blender', '17:4.5.3-1', 'x86_64', 140 * MB],
  ['emacs', '30.2-1', 'x86_64', 38 * MB],
  ['vim', '9.1.1734-1', 'x86_64', 2.3 * MB],
  ['neovim', '0.11.4-1', 'x86_64', 7.1 * MB],
  ['git', '2.51.0-1', 'x86_64', 7.4 * MB],
  ['go', '2:1.25.1-1', 'x86_64', 48 * MB],
  ['rust', '1:1.90.0-1', 'x86_64', 95 * MB],
  ['nodejs', '24.8.0-1', 'x86_64', 20 * MB],
  ['npm', '11.6.0-1', 'any', 2.9 * MB],
  ['python-numpy', '2.3.3-1', 'x86_64', 8.9 * MB],
  ['python-pip', '25.2-1', 'any', 2.7 * MB],
  ['plasma-desktop', '6.4.5-1', 'x86_64', 11 * MB],
  ['plasma-workspace', '6.4.5-1', 'x86_64', 19 * MB],
  ['kwin', '6.4.5-1', 'x86_64', 9.9 * MB],
  ['gnome-shell', '1:49.0-1', 'x86_64', 3.1 * MB],
  ['mutter', '49.0-1', 'x86_64', 3.2 * MB],
  ['gtk4', '1:4.20.1-1', 'x86_64', 8.1 * MB],
  ['qt6-base', '6.9.2-1', 'x86_64', 15 * MB],
  ['qt6-declarative', '6.9.2-1', 'x86_64', 17 * MB],
  ['mesa', '1:25.2.3-1', 'x86_64', 11 * MB],
  ['vulkan-radeon', '1:25.2.3-1', 'x86_64', 2.9 * MB],
  ['nvidia-open', '580.82.09-2', 'x86_64', 3.6 * MB],
  ['pipewire', '1:1.4.8-1', 'x86_64', 1.4 * MB],
  ['wireplumber', '0.5.11-1', 'x86_64', 450 * KB],
  ['networkmanager', '1.54.1-1', 'x86_64', 5.2 * MB],
  ['docker', '1:28.4.0-1', 'x86_64', 28 * MB],
  ['podman', '5.6.1-1', 'x86_64', 12 * MB],
  ['nginx', '1.28.0-2', 'x86_64', 720 * KB],
  ['apache', '2.4.65-2', 'x86_64', 1.7 * MB],
  ['postgresql', '17.6-1', 'x86_64', 14 * MB],
  ['redis', '8.2.1-1', 'x86_64', 1.8 * MB],
  ['ffmpeg', '2:8.0-3', 'x86_64', 14 * MB],
  ['obs-studio', '32.0.1-1', 'x86_64', 17 * MB],
  ['texlive-basic', '2025.2-1', 'any', 32 * MB],
  ['noto-fonts', '1:2025.09.01-1', 'any', 41 * MB],
  ['noto-fonts-cjk', '20240730-1', 'any', 96 * MB],
  ['ttf-dejavu', '2.37+18+g9b5d1b2f-7', 'any', 1.8 * MB],
  ['htop', '3.4.1-1', 'x86_64', 180 * KB],
  ['tmux', '3.5_a-7', 'x86_64', 480 * KB],
  ['zsh', '5.9-5', 'x86_64', 2.9 * MB],
  ['fish', '4.0.8-1', 'x86_64', 4.4 * MB],
  ['wireshark-qt', '4.4.9-1', 'x86_64', 6.7 * MB],
  ['keepassxc', '2.7.10-2', 'x86_64', 6.8 * MB],
];

function genArch(): void {
  const isos = ['2026.06.01', '2026.07.01', '2026.08.01', '2026.09.01'];
  for (const d of isos) {
    const dir = `archlinux/iso/${d}`;
    const t = when(`${d.replaceAll('.', '-')}T06:00:00Z`, dir, 3 * HOUR);
    const iso = `archlinux-${d}-x86_64.iso`;
    const isoSize = around(`${dir}/${iso}`, 1.35 * GB, 0.03);
    const bootstrap = `archlinux-bootstrap-${d}-x86_64.tar.zst`;
    const bootSize = around(`${dir}/${bootstrap}`, 150 * MB, 0.04);
    for (const [name, size] of [
      [iso, isoSize],
      ['archlinux-x86_64.iso', isoSize],
      [bootstrap, bootSize],
      ['archlinux-bootstrap-x86_64.tar.zst', bootSize],
    ] as const) {
      add(`${dir}/${name}`, size, t);
      sig(`${dir}/${name}`, '.sig', t, 141); // ed25519 + fingerprint subpacket
    }
    add(`${dir}/${iso}.torrent`, torrentSize(isoSize, iso), t);
    sums(dir, 'b2sums.txt', t, 128);
    sums(dir, 'sha256sums.txt', t, 64);
    add(`${dir}/arch/version`, 11, t);
    add(`${dir}/arch/pkglist.x86_64.txt`, between(`${dir}/pkglist`, 9 * KB, 11 * KB), t);
    add(`${dir}/arch/boot/x86_64/vmlinuz-linux`, around(`${dir}/vmlinuz`, 15 * MB, 0.03), t);
    add(`${dir}/arch/boot/x86_64/initramfs-linux.img`, around(`${dir}/initramfs`, 120 * MB, 0.05), t);
    add(`${dir}/arch/boot/amd-ucode.img`, around(`${dir}/amd`, 160 * KB, 0.1), t);
    add(`${dir}/arch/boot/intel-ucode.img`, around(`${dir}/intel`, 13 * MB, 0.05), t);
    add(`${dir}/arch/x86_64/airootfs.sfs`, around(`${dir}/sfs`, 1.0 * GB, 0.03), t);
    add(`${dir}/arch/x86_64/airootfs.sha512`, 145, t);
    sig(`${dir}/arch/x86_64/airootfs.sfs`, '.sig', t, 141);
  }

  // Rolling repositories: packages land every day, so some are only hours old.
  let latest = 0;
  for (const [repo, list] of [
    ['core', archCore],
    ['extra', archExtra],
  ] as const) {
    const dir = `archlinux/${repo}/os/x86_64`;
    let repoLatest = 0;
    for (const [name, version, arch, approx] of list) {
      const p = `${dir}/${name}-${version}-${arch}.pkg.tar.zst`;
      const rng = rngFor(`push:${p}`);
      const age = rng() < 0.08 ? intBetween(rng, 30 * 60, 18 * HOUR) : intBetween(rng, 1 * DAY, 120 * DAY);
      const mtime = BASE - age;
      add(p, around(p, approx, 0.08), mtime);
      sig(p, '.sig', mtime, 141);
      repoLatest = Math.max(repoLatest, mtime);
    }
    // The repository databases are rewritten at every push.
    const tdb = repoLatest + 120;
    const dbSize = list.length * 420;
    add(`${dir}/${repo}.db.tar.gz`, around(`${dir}/db`, dbSize, 0.05), tdb);
    add(`${dir}/${repo}.db`, around(`${dir}/db`, dbSize, 0.05), tdb);
    add(`${dir}/${repo}.files.tar.gz`, around(`${dir}/files`, dbSize * 40, 0.05), tdb);
    add(`${dir}/${repo}.files`, around(`${dir}/files`, dbSize * 40, 0.05), tdb);
    latest = Math.max(latest, tdb);
  }
  add('archlinux/lastupdate', 11, latest + 60);
  add('archlinux/lastsync', 11, latest + 60);
}

// ---------------------------------------------------------------------------
// videolan

function genVideolan(): void {
  const versions: [string, string][] = [
    ['3.0.18', '2022-11-29T09:00:00Z'],
    ['3.0.20', '2023-11-02T10:00:00Z'],
    ['3.0.21', '2024-06-10T15:00:00Z'],
  ];
  for (const [v, date] of versions) {
    const dir = `videolan/vlc/${v}`;
    const t = when(date, dir, 4 * HOUR);
    const withHashes = (p: string, size: number) => {
      add(p, size, t);
      for (const ext of ['.asc', '.md5', '.sha1', '.sha256']) sig(p, ext, t);
    };
    withHashes(`${dir}/vlc-${v}.tar.xz`, around(`${dir}/src`, 26 * MB, 0.05));
    for (const [plat, arch] of [
      ['win32', 'win32'],
      ['win64', 'win64'],
    ]) {
      const d = `${dir}/${plat}`;
      withHashes(`${d}/vlc-${v}-${arch}.exe`, around(`${d}/exe`, 41 * MB, 0.05));
      withHashes(`${d}/vlc-${v}-${arch}.msi`, around(`${d}/msi`, 44 * MB, 0.05));
      withHashes(`${d}/vlc-${v}-${arch}.zip`, around(`${d}/zip`, 62 * MB, 0.05));
      withHashes(`${d}/vlc-${v}-${arch}.7z`, around(`${d}/7z`, 39 * MB, 0.05));
      withHashes(`${d}/vlc-${v}-${arch}-debug-symbols.zip`, around(`${d}/dbg`, 260 * MB, 0.05));
    }
    for (const flavour of ['arm64', 'intel64', 'universal']) {
      const d = `${dir}/macosx`;
      withHashes(`${d}/vlc-${v}-${flavour}.dmg`, around(`${d}/${flavour}`, flavour === 'universal' ? 90 * MB : 52 * MB, 0.05));
    }
  }
  for (const [v, date] of [
    ['1.4.3', '2021-06-05T12:00:00Z'],
    ['1.5.0', '2025-06-20T12:00:00Z'],
  ] as const) {
    const d = `videolan/libdvdcss/${v}`;
    const t = when(date, d);
    add(`${d}/libdvdcss-${v}.tar.bz2`, around(d, 360 * KB), t);
    sig(`${d}/libdvdcss-${v}.tar.bz2`, '.asc', t);
    sig(`${d}/libdvdcss-${v}.tar.bz2`, '.sha256', t);
  }
}

// ---------------------------------------------------------------------------
// kde

const plasmaModules = [
  'aurorae',
  'bluedevil',
  'breeze',
  'breeze-grub',
  'breeze-gtk',
  'breeze-plymouth',
  'discover',
  'drkonqi',
  'flatpak-kcm',
  'kactivitymanagerd',
  'kde-cli-tools',
  'kde-gtk-config',
  'kdecoration',
  'kdeplasma-addons',
  'kgamma',
  'kglobalacceld',
  'kinfocenter',
  'kmenuedit',
  'kpipewire',
  'krdp',
  'kscreen',
  'kscreenlocker',
  'ksshaskpass',
  'ksystemstats',
  'kwallet-pam',
  'kwayland',
  'kwin',
  'kwrited',
  'layer-shell-qt',
  'libkscreen',
  'libksysguard',
  'libplasma',
  'milou',
  'ocean-sound-theme',
  'oxygen',
  'oxygen-sounds',
  'plasma-activities',
  'plasma-activities-stats',
  'plasma-browser-integration',
  'plasma-desktop',
  'plasma-dialer',
  'plasma-disks',
  'plasma-firewall',
  'plasma-integration',
  'plasma-mobile',
  'plasma-nano',
  'plasma-nm',
  'plasma-pa',
  'plasma-sdk',
  'plasma-systemmonitor',
  'plasma-thunderbolt',
  'plasma-vault',
  'plasma-welcome',
  'plasma-workspace',
  'plasma-workspace-wallpapers',
  'plasma5support',
  'plymouth-kcm',
  'polkit-kde-agent-1',
  'powerdevil',
  'print-manager',
  'qqc2-breeze-style',
  'sddm-kcm',
  'spacebar',
  'spectacle',
  'systemsettings',
  'wacomtablet',
  'xdg-desktop-portal-kde',
];
const frameworks = [
  'attica',
  'baloo',
  'bluez-qt',
  'breeze-icons',
  'extra-cmake-modules',
  'frameworkintegration',
  'kapidox',
  'karchive',
  'kauth',
  'kbookmarks',
  'kcalendarcore',
  'kcmutils',
  'kcodecs',
  'kcolorscheme',
  'kcompletion',
  'kconfig',
  'kconfigwidgets',
  'kcontacts',
  'kcoreaddons',
  'kcrash',
  'kdav',
  'kdbusaddons',
  'kdeclarative',
  'kded',
  'kdesu',
  'kdnssd',
  'kdoctools',
  'kfilemetadata',
  'kglobalaccel',
  'kguiaddons',
  'kholidays',
  'ki18n',
  'kiconthemes',
  'kidletime',
  'kimageformats',
  'kio',
  'kirigami',
  'kitemmodels',
  'kitemviews',
  'kjobwidgets',
  'knewstuff',
  'knotifications',
  'knotifyconfig',
  'kpackage',
  'kparts',
  'kpeople',
  'kplotting',
  'kpty',
  'kquickcharts',
  'krunner',
  'kservice',
  'kstatusnotifieritem',
  'ksvg',
  'ktexteditor',
  'ktexttemplate',
  'ktextwidgets',
  'kunitconversion',
  'kuserfeedback',
  'kwallet',
  'kwidgetsaddons',
  'kwindowsystem',
  'kxmlgui',
  'modemmanager-qt',
  'networkmanager-qt',
  'prison',
  'purpose',
  'qqc2-desktop-style',
  'solid',
  'sonnet',
  'syndication',
  'syntax-highlighting',
  'threadweaver',
];
const bigKde: Record<string, number> = {
  'plasma-workspace-wallpapers': 95 * MB,
  'breeze-icons': 2.2 * MB,
  'plasma-workspace': 19 * MB,
  kwin: 8.5 * MB,
  'oxygen-sounds': 2.0 * MB,
  breeze: 50 * MB,
  'plasma-desktop': 15 * MB,
  kio: 3.3 * MB,
  'syntax-highlighting': 4 * MB,
};

function genKde(): void {
  for (const [v, date] of [
    ['6.2.3', '2024-11-05T13:00:00Z'],
    ['6.4.5', '2025-09-09T13:00:00Z'],
    ['6.7.5', '2026-09-15T13:00:00Z'],
  ] as const) {
    const dir = `kde/stable/plasma/${v}`;
    for (const m of plasmaModules) {
      const p = `${dir}/${m}-${v}.tar.xz`;
      const t = when(date, p, 40 * 60);
      add(p, around(p, bigKde[m] ?? between(`c:${m}`, 120 * KB, 3 * MB), 0.08), t);
      sig(p, '.sig', t, 119);
    }
  }
  for (const [v, date] of [
    ['6.7', '2024-10-11T10:00:00Z'],
    ['6.18', '2025-09-12T10:00:00Z'],
  ] as const) {
    const dir = `kde/stable/frameworks/${v}`;
    for (const m of frameworks) {
      const p = `${dir}/${m}-${v}.0.tar.xz`;
      const t = when(date, p, 40 * 60);
      add(p, around(p, bigKde[m] ?? between(`c:${m}`, 40 * KB, 2.5 * MB), 0.08), t);
      sig(p, '.sig', t, 119);
    }
  }
  const apps = [
    'dolphin',
    'kate',
    'konsole',
    'okular',
    'gwenview',
    'ark',
    'spectacle',
    'kdenlive',
    'elisa',
    'kcalc',
    'filelight',
    'krdc',
    'kio-extras',
    'kdeconnect-kde',
    'korganizer',
    'kmail',
  ];
  for (const [v, date] of [
    ['24.08.3', '2024-11-07T10:00:00Z'],
    ['26.08.1', '2026-09-04T10:00:00Z'],
  ] as const) {
    for (const a of apps) {
      const p = `kde/stable/release-service/${v}/src/${a}-${v}.tar.xz`;
      const t = when(date, p, 40 * 60);
      add(p, around(p, a === 'kdenlive' ? 14 * MB : between(`c:${a}`, 1 * MB, 9 * MB), 0.08), t);
      sig(p, '.sig', t, 119);
    }
  }
}

// ---------------------------------------------------------------------------
// gnu

function genGnu(): void {
  add('gnu/gnu-keyring.gpg', 1_843_127, when('2026-06-02T08:00:00Z', 'gnu/gnu-keyring.gpg'));
  add('gnu/README', 4_112, when('2023-02-11T08:00:00Z', 'gnu/README'));
  const tarballs: [string, string, string, number, string[]][] = [
    ['emacs', '29.4', '2024-06-22T12:00:00Z', 52 * MB, ['.tar.xz', '.tar.gz']],
    ['emacs', '30.1', '2025-02-23T12:00:00Z', 54 * MB, ['.tar.xz', '.tar.gz']],
    ['emacs', '30.2', '2025-08-14T12:00:00Z', 54 * MB, ['.tar.xz', '.tar.gz']],
    ['bash', '5.2.37', '2024-09-23T12:00:00Z', 11 * MB, ['.tar.gz']],
    ['bash', '5.3', '2025-07-03T12:00:00Z', 11 * MB, ['.tar.gz']],
    ['coreutils', '9.5', '2024-03-28T12:00:00Z', 6 * MB, ['.tar.xz', '.tar.gz']],
    ['coreutils', '9.7', '2025-04-09T12:00:00Z', 6.1 * MB, ['.tar.xz', '.tar.gz']],
    ['coreutils', '9.8', '2025-09-22T12:00:00Z', 6.2 * MB, ['.tar.xz', '.tar.gz']],
    ['make', '4.4.1', '2023-02-26T12:00:00Z', 2.3 * MB, ['.tar.lz', '.tar.gz']],
    ['tar', '1.35', '2023-07-18T12:00:00Z', 2.3 * MB, ['.tar.xz', '.tar.gz', '.tar.bz2']],
    ['grep', '3.11', '2023-05-13T12:00:00Z', 1.7 * MB, ['.tar.xz', '.tar.gz']],
    ['grep', '3.12', '2025-04-10T12:00:00Z', 1.8 * MB, ['.tar.xz', '.tar.gz']],
    ['sed', '4.9', '2022-11-06T12:00:00Z', 1.4 * MB, ['.tar.xz', '.tar.gz']],
    ['gawk', '5.3.1', '2024-09-17T12:00:00Z', 3.6 * MB, ['.tar.xz', '.tar.gz', '.tar.lz']],
    ['gawk', '5.3.2', '2025-04-02T12:00:00Z', 3.7 * MB, ['.tar.xz', '.tar.gz', '.tar.lz']],
    ['gzip', '1.14', '2025-04-09T12:00:00Z', 850 * KB, ['.tar.xz', '.tar.gz']],
    ['wget', '1.25.0', '2024-11-11T12:00:00Z', 5.1 * MB, ['.tar.lz', '.tar.gz']],
    ['nano', '8.6', '2025-08-19T12:00:00Z', 1.7 * MB, ['.tar.xz', '.tar.gz']],
    ['guile', '3.0.10', '2024-06-24T12:00:00Z', 8.5 * MB, ['.tar.xz', '.tar.gz']],
    ['hello', '2.12.2', '2025-05-30T12:00:00Z', 1.1 * MB, ['.tar.gz']],
  ];
  for (const [name, v, date, center, exts] of tarballs) {
    for (const ext of exts) {
      const p = `gnu/${name}/${name}-${v}${ext}`;
      const t = when(date, p, 30 * 60);
      const factor = ext === '.tar.gz' ? 1.35 : ext === '.tar.bz2' ? 1.15 : 1;
      add(p, around(p, center * factor, 0.04), t);
      sig(p, '.sig', t, 833);
    }
  }
  // GCC and friends keep one folder per release.
  for (const [v, date] of [
    ['14.2.0', '2024-08-01T12:00:00Z'],
    ['15.1.0', '2025-04-25T12:00:00Z'],
    ['15.2.0', '2025-08-08T12:00:00Z'],
  ] as const) {
    const dir = `gnu/gcc/gcc-${v}`;
    const t = when(date, dir);
    for (const [ext, center] of [
      ['.tar.xz', 92 * MB],
      ['.tar.gz', 150 * MB],
    ] as const) {
      add(`${dir}/gcc-${v}${ext}`, around(`${dir}${ext}`, center, 0.04), t);
      sig(`${dir}/gcc-${v}${ext}`, '.sig', t, 833);
    }
    sums(dir, 'sha512.sum', t, 128);
  }
  for (const [name, v, date, center] of [
    ['binutils', '2.44', '2025-02-02T12:00:00Z', 27 * MB],
    ['binutils', '2.45', '2025-07-27T12:00:00Z', 28 * MB],
    ['glibc', '2.41', '2025-01-30T12:00:00Z', 19 * MB],
    ['glibc', '2.42', '2025-07-28T12:00:00Z', 19 * MB],
    ['gdb', '16.3', '2025-04-20T12:00:00Z', 24 * MB],
  ] as const) {
    const p = `gnu/${name}/${name}-${v}.tar.xz`;
    const t = when(date, p);
    add(p, around(p, center, 0.04), t);
    sig(p, '.sig', t, 833);
  }
}

// ---------------------------------------------------------------------------
// apache

function genApache(): void {
  const withSigs = (p: string, size: number, t: number) => {
    add(p, size, t);
    sig(p, '.asc', t);
    sig(p, '.sha512', t);
  };
  add('apache/KEYS', 185_044, when('2026-03-18T00:00:00Z', 'apache/KEYS'));
  for (const [v, date] of [
    ['2.4.62', '2024-07-17T12:00:00Z'],
    ['2.4.63', '2025-01-23T12:00:00Z'],
    ['2.4.65', '2025-07-23T12:00:00Z'],
  ] as const) {
    const t = when(date, `httpd-${v}`);
    for (const [ext, center] of [
      ['.tar.bz2', 7.6 * MB],
      ['.tar.gz', 9.8 * MB],
    ] as const) {
      const p = `apache/httpd/httpd-${v}${ext}`;
      withSigs(p, around(p, center, 0.02), t);
      sig(p, '.sha256', t);
    }
  }
  add('apache/httpd/CHANGES_2.4', 312_556, when('2025-07-23T12:00:00Z', 'CHANGES_2.4'));
  add('apache/httpd/KEYS', 96_310, when('2025-01-10T12:00:00Z', 'httpd/KEYS'));
  for (const [major, v, date] of [
    ['10', '10.1.46', '2025-09-15T12:00:00Z'],
    ['11', '11.0.11', '2025-09-15T12:00:00Z'],
    ['9', '9.0.109', '2025-09-15T12:00:00Z'],
  ] as const) {
    const dir = `apache/tomcat/tomcat-${major}/v${v}`;
    const t = when(date, dir);
    withSigs(`${dir}/bin/apache-tomcat-${v}.tar.gz`, around(`${dir}/tgz`, 13 * MB, 0.04), t);
    withSigs(`${dir}/bin/apache-tomcat-${v}.zip`, around(`${dir}/zip`, 13.5 * MB, 0.04), t);
    withSigs(`${dir}/bin/apache-tomcat-${v}-windows-x64.zip`, around(`${dir}/win`, 14 * MB, 0.04), t);
    withSigs(`${dir}/bin/apache-tomcat-${v}.exe`, around(`${dir}/exe`, 14.5 * MB, 0.04), t);
    withSigs(`${dir}/src/apache-tomcat-${v}-src.tar.gz`, around(`${dir}/src`, 7.2 * MB, 0.04), t);
  }
  for (const [v, date] of [
    ['3.9.1', '2025-05-21T12:00:00Z'],
    ['4.0.0', '2025-03-18T12:00:00Z'],
    ['4.1.0', '2025-09-02T12:00:00Z'],
  ] as const) {
    const dir = `apache/kafka/${v}`;
    const t = when(date, dir);
    withSigs(`${dir}/kafka_2.13-${v}.tgz`, around(`${dir}/bin`, 120 * MB, 0.06), t);
    withSigs(`${dir}/kafka-${v}-src.tgz`, around(`${dir}/src`, 14 * MB, 0.06), t);
  }
  for (const [v, date] of [
    ['3.9.9', '2024-08-17T12:00:00Z'],
    ['3.9.11', '2025-07-15T12:00:00Z'],
  ] as const) {
    const dir = `apache/maven/maven-3/${v}`;
    const t = when(date, dir);
    withSigs(`${dir}/binaries/apache-maven-${v}-bin.tar.gz`, around(`${dir}/b`, 9.1 * MB, 0.03), t);
    withSigs(`${dir}/binaries/apache-maven-${v}-bin.zip`, around(`${dir}/z`, 9.6 * MB, 0.03), t);
    withSigs(`${dir}/source/apache-maven-${v}-src.tar.gz`, around(`${dir}/s`, 3.0 * MB, 0.03), t);
  }
}

// ---------------------------------------------------------------------------
// python

const msiComponents = ['core', 'dev', 'doc', 'exe', 'launcher', 'lib', 'path', 'pip', 'tcltk', 'test', 'tools', 'ucrt', 'freethreaded', 'appendpath'];

function genPython(): void {
  const releases: { v: string; date: string; binaries: boolean }[] = [
    { v: '3.12.11', date: '2025-06-03T15:00:00Z', binaries: false }, // security fixes only: source
    { v: '3.13.0', date: '2024-10-07T19:00:00Z', binaries: true },
    { v: '3.13.7', date: '2025-08-14T15:00:00Z', binaries: true },
    { v: '3.14.0', date: '2025-10-07T15:00:00Z', binaries: true },
    { v: '3.14.6', date: '2026-08-04T15:00:00Z', binaries: true },
  ];
  for (const r of releases) {
    const dir = `python/${r.v}`;
    const t = when(r.date, dir, 3 * HOUR);
    const signed = (p: string, size: number) => {
      add(p, size, t);
      sig(p, '.sigstore', t);
      if (!r.v.startsWith('3.14')) sig(p, '.asc', t); // 3.14 dropped PGP signatures
    };
    signed(`${dir}/Python-${r.v}.tar.xz`, around(`${dir}/xz`, 22 * MB, 0.05));
    signed(`${dir}/Python-${r.v}.tgz`, around(`${dir}/tgz`, 29 * MB, 0.05));
    if (!r.binaries) continue;
    signed(`${dir}/python-${r.v}-amd64.exe`, around(`${dir}/exe64`, 27 * MB, 0.05));
    signed(`${dir}/python-${r.v}-arm64.exe`, around(`${dir}/exearm`, 26 * MB, 0.05));
    signed(`${dir}/python-${r.v}.exe`, around(`${dir}/exe32`, 26 * MB, 0.05));
    for (const arch of ['amd64', 'arm64', 'win32']) signed(`${dir}/python-${r.v}-embed-${arch}.zip`, around(`${dir}/embed-${arch}`, 10 * MB, 0.08));
    signed(`${dir}/python-${r.v}-macos11.pkg`, around(`${dir}/pkg`, 68 * MB, 0.05));
    signed(`${dir}/python-${r.v}-docs-html.tar.bz2`, around(`${dir}/docs`, 8.8 * MB, 0.05));
    for (const arch of ['amd64', 'arm64', 'win32']) {
      for (const c of msiComponents) {
        for (const variant of c === 'path' || c === 'appendpath' || c === 'launcher' || c === 'pip' || c === 'doc' || c === 'ucrt'
          ? ['']
          : ['', '_d', '_pdb']) {
          const p = `${dir}/${arch}/${c}${variant}.msi`;
          add(p, around(p, variant === '_pdb' ? 9 * MB : variant === '_d' ? 5 * MB : between(`c:${c}`, 90 * KB, 14 * MB), 0.15), t);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// libreoffice

const loLangs = ['ar', 'de', 'en-GB', 'es', 'fr', 'it', 'ja', 'nl', 'pl', 'pt-BR', 'ru', 'zh-CN'];

function genLibreOffice(tree: 'stable' | 'testing', v: string, build: string, date: string, jitter: number): void {
  const dir = `libreoffice/${tree}/${v}`;
  const t = when(date, dir, jitter);
  const signed = (p: string, center: number) => {
    add(p, around(p, center, 0.05), t);
    sig(p, '.asc', t);
  };
  const fileVersion = tree === 'testing' ? build : v;
  for (const [fmt, label] of [
    ['deb', 'deb'],
    ['rpm', 'rpm'],
  ] as const) {
    signed(`${dir}/${fmt}/x86_64/LibreOffice_${fileVersion}_Linux_x86-64_${label}.tar.gz`, fmt === 'deb' ? 220 * MB : 230 * MB);
    signed(`${dir}/${fmt}/aarch64/LibreOffice_${fileVersion}_Linux_aarch64_${label}.tar.gz`, 205 * MB);
    if (tree === 'stable') {
      for (const lang of loLangs) {
        signed(`${dir}/${fmt}/x86_64/LibreOffice_${fileVersion}_Linux_x86-64_${label}_langpack_${lang}.tar.gz`, 1.8 * MB);
        signed(`${dir}/${fmt}/x86_64/LibreOffice_${fileVersion}_Linux_x86-64_${label}_helppack_${lang}.tar.gz`, 3.2 * MB);
      }
    }
  }
  signed(`${dir}/win/x86_64/LibreOffice_${fileVersion}_Win_x86-64.msi`, 350 * MB);
  signed(`${dir}/win/aarch64/LibreOffice_${fileVersion}_Win_aarch64.msi`, 330 * MB);
  signed(`${dir}/mac/x86_64/LibreOffice_${fileVersion}_MacOS_x86-64.dmg`, 300 * MB);
  signed(`${dir}/mac/aarch64/LibreOffice_${fileVersion}_MacOS_aarch64.dmg`, 290 * MB);
  if (tree === 'stable') {
    for (const lang of loLangs) {
      signed(`${dir}/win/x86_64/LibreOffice_${fileVersion}_Win_x86-64_helppack_${lang}.msi`, 4.1 * MB);
      signed(`${dir}/mac/aarch64/LibreOffice_${fileVersion}_MacOS_aarch64_langpack_${lang}.dmg`, 1.4 * MB);
    }
  }
  for (const [part, center] of [
    ['', 280 * MB],
    ['-dictionaries', 55 * MB],
    ['-help', 90 * MB],
    ['-translations', 210 * MB],
  ] as const) {
    signed(`${dir}/src/libreoffice${part}-${build}.tar.xz`, center);
  }
}

function genLibreOfficeAll(): void {
  genLibreOffice('stable', '24.8.3', '24.8.3.2', '2024-11-14T09:00:00Z', 2 * HOUR);
  genLibreOffice('stable', '26.2.6', '26.2.6.2', '2026-08-27T09:00:00Z', 2 * HOUR);
  genLibreOffice('stable', '26.8.1', '26.8.1.2', '2026-09-10T09:00:00Z', 2 * HOUR);
  // A release candidate uploaded less than an hour before "now": only the origin has it.
  genLibreOffice('testing', '26.8.2', '26.8.2.1', new Date((BASE - 50 * 60) * 1000).toISOString(), 10 * 60);
}

// ---------------------------------------------------------------------------
// community: user-contributed odds and ends, with names the redirector must encode.

function genCommunity(): void {
  const items: [string, number, string][] = [
    ['community/README.txt', 2_318, '2025-01-04T10:00:00Z'],
    ['community/wallpapers/Ünïcode Städte (2026)/berlin night.png', 4_812_331, '2026-03-02T18:20:00Z'],
    ['community/wallpapers/Ünïcode Städte (2026)/köln – dom im nebel.jpg', 3_904_112, '2026-03-02T18:21:00Z'],
    ['community/wallpapers/Ünïcode Städte (2026)/São Paulo, Avenida Paulista.jpg', 5_120_448, '2026-03-02T18:22:00Z'],
    ['community/wallpapers/Ünïcode Städte (2026)/東京 夜景.jpg', 6_002_917, '2026-03-02T18:23:00Z'],
    ['community/wallpapers/Ünïcode Städte (2026)/Zürich + Genève.png', 4_412_080, '2026-03-02T18:24:00Z'],
    ['community/wallpapers/Ünïcode Städte (2026)/SHA256SUMS', 541, '2026-03-02T18:30:00Z'],
    ['community/wallpapers/aurora over tromsø [4k].jpg', 8_733_190, '2026-09-30T09:12:00Z'],
    ['community/docs/readme (español).txt', 6_204, '2025-11-12T08:00:00Z'],
    ['community/docs/Einführung in Linux (Ausgabe 3).pdf', 2_904_733, '2025-11-12T08:05:00Z'],
    ['community/docs/日本語ガイド.pdf', 3_118_004, '2025-12-01T03:00:00Z'],
    ['community/docs/Руководство пользователя.pdf', 2_733_561, '2025-12-01T03:10:00Z'],
    ['community/docs/دليل المستخدم.pdf', 2_590_016, '2025-12-01T03:20:00Z'],
    ['community/docs/C# & F# on Linux — notes.md', 41_207, '2026-01-20T12:00:00Z'],
    ['community/docs/100% free; no strings attached.txt', 1_024, '2026-01-20T12:05:00Z'],
    ['community/docs/what?is#this.txt', 512, '2026-01-20T12:06:00Z'],
    ['community/music/Ode an die Freude [live] (CC BY-SA).ogg', 9_902_374, '2025-05-09T20:00:00Z'],
    ['community/music/café del mar — ambient mix.opus', 61_033_870, '2025-05-09T20:10:00Z'],
    ['community/fonts/Noto Sans (subset)/NotoSans-Regular.ttf', 582_748, '2025-02-14T10:00:00Z'],
    ['community/fonts/Noto Sans (subset)/OFL.txt', 4_399, '2025-02-14T10:00:00Z'],
    ['community/isos/rescue disk (2026-09).iso', 734_003_200, '2026-09-03T07:00:00Z'],
    ['community/isos/rescue disk (2026-09).iso.sha256', 102, '2026-09-03T07:00:00Z'],
  ];
  for (const [p, size, date] of items) add(p, size, when(date, p, 10 * 60));
}

// ---------------------------------------------------------------------------
// Build the tree, then resolve checksum-list sizes from their folders' contents.

genDebian();
genUbuntu();
genFedora();
genArch();
genVideolan();
genKde();
genGnu();
genApache();
genPython();
genLibreOfficeAll();
genCommunity();

{
  const byDir = new Map<string, OriginFile[]>();
  for (const f of files.values()) {
    const dir = f.path.slice(0, f.path.lastIndexOf('/'));
    let list = byDir.get(dir);
    if (!list) byDir.set(dir, (list = []));
    list.push(f);
  }
  for (const s of sumsFiles) {
    const dir = s.path.slice(0, s.path.lastIndexOf('/'));
    // Checksum lists cover the payload files (torrents included), not signatures or other lists.
    const listed = (byDir.get(dir) ?? []).filter((f) => !/(SUMS|sums\.txt|CHECKSUM|\.sum)(\.(sign|gpg|sig))?$|\.(sig|sign|asc)$/.test(f.path));
    let size = s.overhead;
    for (const f of listed) {
      const name = f.path.slice(f.path.lastIndexOf('/') + 1);
      size += s.perLine + Buffer.byteLength(name) + (s.bsdStyle ? 2 : 0);
    }
    add(s.path, Math.max(size, 1), s.mtime);
  }
}

const origin = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

// ---------------------------------------------------------------------------
// Mirror inventories. The shares below must match content.include/exclude in
// config/mirrorgate.yaml (they are plain top-level folders on purpose).

interface InventoryEntry {
  path: string;
  size: number;
  mtime: number;
}

interface InventoryPlan {
  id: string;
  /** top-level folders carried; undefined = everything */
  folders?: string[];
  /** the mirror's last completed sync: files changed at the origin later are not there */
  lastSync: number;
  edit: (share: OriginFile[]) => InventoryEntry[];
}

const DEMO_MISSING_ON_REDWOOD = 'fedora/releases/41/Workstation/x86_64/iso/Fedora-Workstation-Live-x86_64-41-1.4.iso';
const DEMO_STALE_ON_HINODE = new Map<string, { size: (s: number) => number; mtime: (t: number) => number }>([
  // previous point release's checksum list
  ['ubuntu-releases/24.04/SHA256SUMS', { size: (s) => s - 6, mtime: (t) => t - 188 * DAY }],
  ['ubuntu-releases/24.04/SHA256SUMS.gpg', { size: (s) => s, mtime: (t) => t - 188 * DAY }],
  // repository databases from an earlier push
  ['archlinux/core/os/x86_64/core.db', { size: (s) => s - 412, mtime: (t) => t - 9 * HOUR }],
  ['archlinux/core/os/x86_64/core.db.tar.gz', { size: (s) => s - 412, mtime: (t) => t - 9 * HOUR }],
  ['debian-cd/13.7.0-live/amd64/iso-hybrid/SHA256SUMS', { size: (s) => s - 92, mtime: (t) => t - 2 * HOUR }],
  // re-signed at the origin; same size, older signature
  ['debian-cd/13.7.0/amd64/iso-cd/SHA512SUMS.sign', { size: (s) => s, mtime: (t) => t - 3 * DAY }],
  // a transfer that stopped half-way
  ['fedora/releases/44/Workstation/x86_64/iso/Fedora-Workstation-Live-x86_64-44-1.7.iso', { size: (s) => Math.floor(s / 2 / 4096) * 4096, mtime: (t) => t }],
  ['videolan/vlc/3.0.21/win64/vlc-3.0.21-win64.exe', { size: (s) => s - 1_048_576, mtime: (t) => t }],
]);

const asEntry = (f: OriginFile): InventoryEntry => ({ path: f.path, size: f.size, mtime: f.mtime });

const plans: InventoryPlan[] = [
  {
    // Complete: a byte-for-byte copy of the origin as of its last sync.
    id: 'mainbruecke-de',
    lastSync: BASE - 2 * HOUR - 30 * 60,
    edit: (share) => share.map(asEntry),
  },
  {
    // Partial: its sync runs in slices and about one file in ten has not arrived yet;
    // it also still holds an ISO the origin has since removed.
    id: 'redwood-us',
    folders: ['fedora', 'archlinux', 'kde', 'libreoffice', 'python', 'gnu'],
    lastSync: BASE - 6 * HOUR,
    edit: (share) => {
      const kept = share.filter((f) => f.path !== DEMO_MISSING_ON_REDWOOD && rngFor(`redwood-missing:${f.path}`)() >= 0.1);
      const gone = 'archlinux/iso/2026.05.01/archlinux-2026.05.01-x86_64.iso';
      const t = Date.parse('2026-05-01T06:40:00Z') / 1000;
      return [...kept.map(asEntry), { path: gone, size: 1_402_863_616, mtime: t }, { path: `${gone}.sig`, size: 141, mtime: t + 300 }];
    },
  },
  {
    // Stale: synced recently, but a handful of files are older copies (a failed
    // transfer left one truncated) — those must not be sent there.
    id: 'hinode-jp',
    folders: ['debian-cd', 'ubuntu-releases', 'fedora', 'archlinux', 'videolan'],
    lastSync: BASE - 1 * HOUR,
    edit: (share) =>
      share.map((f) => {
        const stale = DEMO_STALE_ON_HINODE.get(f.path);
        if (!stale) return asEntry(f);
        return { path: f.path, size: stale.size(f.size), mtime: stale.mtime(f.mtime) };
      }),
  },
];

// ---------------------------------------------------------------------------
// Write.

function jsonl<T>(rows: T[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

mkdirSync(join(dataDir, 'mirrors'), { recursive: true });
writeFileSync(join(dataDir, 'manifest.jsonl'), jsonl(origin.map((f) => ({ path: f.path, size: f.size, mtime: f.mtime, sha256: f.sha256 }))));

const report: string[] = [];
for (const plan of plans) {
  const share = origin.filter((f) => !plan.folders || plan.folders.includes(f.path.slice(0, f.path.indexOf('/'))));
  const synced = share.filter((f) => f.mtime <= plan.lastSync);
  const entries = plan.edit(synced).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  writeFileSync(join(dataDir, 'mirrors', `${plan.id}.jsonl`), jsonl(entries));
  report.push(`  ${plan.id.padEnd(16)} ${String(entries.length).padStart(5)} entries (share ${share.length}, not yet synced ${share.length - synced.length})`);
}

for (const demo of [DEMO_MISSING_ON_REDWOOD, ...DEMO_STALE_ON_HINODE.keys()]) {
  if (!files.has(demo)) throw new Error(`demo path ${demo} is not in the origin set`);
}

const fresh = origin.filter((f) => f.mtime > BASE - DAY).length;
const bytes = origin.reduce((n, f) => n + f.size, 0);
const byProject = new Map<string, number>();
for (const f of origin) {
  const top = f.path.slice(0, f.path.indexOf('/'));
  byProject.set(top, (byProject.get(top) ?? 0) + 1);
}
console.log(`data/manifest.jsonl: ${origin.length} files, ${(bytes / 2 ** 40).toFixed(2)} TiB, ${fresh} changed in the last day`);
console.log(`  ${[...byProject].map(([k, n]) => `${k} ${n}`).join(', ')}`);
console.log('data/mirrors/:');
console.log(report.join('\n'));
