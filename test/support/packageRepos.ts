// Builds real package repositories on disk for tests: a Debian archive (dpkg-deb, dpkg-scanpackages) and an rpm-style repodata/ tree.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export function sh(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export const sha256 = (data: Buffer | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Writes a file with a fixed mtime (mirrors copy mtimes, as rsync -t does). */
export async function put(root: string, rel: string, data: Buffer | string, mtime: number): Promise<void> {
  const file = path.join(root, ...rel.split('/'));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, data);
  await utimes(file, mtime, mtime);
}

/** Every file below root as {path, size, mtime, sha256}, paths relative with '/'. */
export async function listTree(root: string): Promise<{ path: string; size: number; mtime: number; sha256: string }[]> {
  const out: { path: string; size: number; mtime: number; sha256: string }[] = [];
  const walk = async (dir: string, rel: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(abs, r);
      else if (e.isFile()) {
        const st = await stat(abs);
        out.push({ path: r, size: st.size, mtime: Math.floor(st.mtimeMs / 1000), sha256: sha256(await readFile(abs)) });
      }
    }
  };
  await walk(root, '');
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Copies the listed files of one tree to another, keeping mtimes. */
export async function copyFiles(from: string, to: string, rels: readonly string[]): Promise<void> {
  for (const rel of rels) {
    const src = path.join(from, ...rel.split('/'));
    const dst = path.join(to, ...rel.split('/'));
    await mkdir(path.dirname(dst), { recursive: true });
    await copyFile(src, dst);
    const st = await stat(src);
    await utimes(dst, st.atime, st.mtime);
  }
}

export interface DebianSuite {
  /** Files of the archive below its root, e.g. "dists/stable/Release", "pool/main/h/hello/hello_1.0_all.deb". */
  files: string[];
  /** The .deb paths, per version. */
  debs: Record<string, string>;
}

/**
 * A Debian archive under `root` (e.g. <origin>/debian) with package `hello` in `versions`: real .debs
 * built by dpkg-deb, Packages by dpkg-scanpackages, Packages.gz, and an unsigned Release with the
 * indexes' SHA256 sums (clients use [trusted=yes]). Everything written has mtime `mtime`.
 */
export async function buildDebianArchive(root: string, versions: readonly string[], mtime: number, debSize = 300_000): Promise<DebianSuite> {
  const work = await mkdtemp(path.join(tmpdir(), 'mirrorgate-deb-'));
  const debs: Record<string, string> = {};
  try {
    for (const version of versions) {
      const pkg = path.join(work, `hello-${version}`);
      await mkdir(path.join(pkg, 'DEBIAN'), { recursive: true });
      await writeFile(
        path.join(pkg, 'DEBIAN', 'control'),
        `Package: hello\nVersion: ${version}\nArchitecture: all\nMaintainer: Mirrorgate Tests <tests@example.org>\nDescription: a test package\n greets the world, version ${version}\n`,
      );
      await mkdir(path.join(pkg, 'usr/share/hello'), { recursive: true });
      // Random bytes do not compress: the .deb is about debSize, big enough for segmented clients.
      await writeFile(path.join(pkg, 'usr/share/hello/payload.bin'), randomBytes(debSize));
      const rel = `pool/main/h/hello/hello_${version}_all.deb`;
      const out = path.join(root, ...rel.split('/'));
      await mkdir(path.dirname(out), { recursive: true });
      const built = await sh('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', pkg, out]);
      if (built.code !== 0) throw new Error(`dpkg-deb failed: ${built.stderr}`);
      await utimes(out, mtime, mtime);
      debs[version] = rel;
    }
    const scan = await sh('dpkg-scanpackages', ['--multiversion', 'pool', '/dev/null'], { cwd: root });
    if (scan.code !== 0) throw new Error(`dpkg-scanpackages failed: ${scan.stderr}`);
    const packages = Buffer.from(scan.stdout);
    const packagesGz = gzipSync(packages);
    const indexes: [string, Buffer][] = [
      ['main/binary-amd64/Packages', packages],
      ['main/binary-amd64/Packages.gz', packagesGz],
    ];
    for (const [rel, data] of indexes) await put(root, `dists/stable/${rel}`, data, mtime);
    const release = [
      'Origin: Mirrorgate Tests',
      'Label: Mirrorgate Tests',
      'Suite: stable',
      'Codename: stable',
      `Date: ${new Date(mtime * 1000).toUTCString()}`,
      'Architectures: amd64',
      'Components: main',
      'SHA256:',
      ...indexes.map(([rel, data]) => ` ${sha256(data)} ${String(data.length).padStart(8)} ${rel}`),
      '',
    ].join('\n');
    await put(root, 'dists/stable/Release', release, mtime);
    const files = [...Object.values(debs), 'dists/stable/Release', ...indexes.map(([rel]) => `dists/stable/${rel}`)];
    return { files, debs };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * An rpm-style repository under `root`: repodata/repomd.xml naming a primary file whose name carries
 * its hash (as createrepo_c writes it), and one package. Returns the repodata paths.
 */
export async function buildRpmRepo(root: string, generation: string, mtime: number): Promise<{ repomd: string; primary: string; rpm: string }> {
  const primaryXml = gzipSync(
    Buffer.from(`<?xml version="1.0"?>\n<metadata packages="1"><package><name>hello</name><version ver="${generation}"/></package></metadata>\n`),
  );
  const primary = `repodata/${sha256(primaryXml)}-primary.xml.gz`;
  await put(root, primary, primaryXml, mtime);
  const repomd = `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>${mtime}</revision>
<data type="primary"><checksum type="sha256">${sha256(primaryXml)}</checksum><location href="${primary}"/><size>${primaryXml.length}</size></data>
</repomd>
`;
  await put(root, 'repodata/repomd.xml', repomd, mtime);
  const rpm = `Packages/h/hello-${generation}.noarch.rpm`;
  await put(root, rpm, randomBytes(5_000), mtime);
  return { repomd: 'repodata/repomd.xml', primary, rpm };
}
