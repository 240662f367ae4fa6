// A folder of the file set as a browsable listing (as MirrorBrain and SourceForge show one): subfolders, then files with size, date and checksum.
import { html } from 'hono/html';
import { formatBytes } from '../../core/format.js';
import { encodePathForUrl } from '../../core/paths.js';
import { page } from './layout.js';

export interface FolderPageModel {
  /** The folder ("" for the top), without a trailing slash. */
  folder: string;
  folders: string[];
  files: { name: string; path: string; size: number; mtime?: number; sha256?: string }[];
  /** A package repository's index (Release, repomd.xml) lies below: its mirror list is worth a link. */
  repository: boolean;
}

const href = (path: string) => `/download/${path === '' ? '' : encodePathForUrl(path)}`;

export function folderPage(m: FolderPageModel) {
  const title = m.folder === '' ? 'All files' : `/${m.folder}/`;
  const crumbs = m.folder === '' ? [] : m.folder.split('/');
  return page({
    title: `Index of ${title}`,
    body: html`<nav aria-label="Folders" class="crumbs"><a href="/download/">All files</a>${crumbs.map(
      (name, i) => html` / <a href="${href(crumbs.slice(0, i + 1).join('/'))}/">${name}</a>`,
    )}</nav>
<h1 class="path">Index of ${title}</h1>
<div class="table-wrap"><table class="listing">
<caption>${m.folders.length} folder${m.folders.length === 1 ? '' : 's'}, ${m.files.length} file${m.files.length === 1 ? '' : 's'}</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Modified (UTC)</th><th scope="col">SHA-256</th></tr></thead>
<tbody>
${m.folder === '' ? '' : html`<tr><td><a href="${crumbs.length > 1 ? `${href(crumbs.slice(0, -1).join('/'))}/` : '/download/'}">Parent folder</a></td><td></td><td></td><td></td></tr>`}
${m.folders.map((name) => html`<tr><td><a href="${href(m.folder === '' ? name : `${m.folder}/${name}`)}/">${name}/</a></td><td>–</td><td></td><td></td></tr>`)}
${m.files.map(
  (f) =>
    html`<tr><td><a href="${href(f.path)}">${f.name}</a></td><td>${formatBytes(f.size)}</td><td>${f.mtime !== undefined ? new Date(f.mtime * 1000).toISOString().slice(0, 16).replace('T', ' ') : ''}</td><td>${
      f.sha256 ? html`<a href="${href(f.path)}?sha256">checksum</a>` : ''
    }</td></tr>`,
)}
</tbody></table></div>
<p>Each file link sends you to a nearby mirror.${
      m.repository
        ? html` This folder holds a package repository: <a href="${href(m.folder)}${m.folder === '' ? '' : '/'}?mirrorlist">the mirrors holding all of it</a>.`
        : ''
    }</p>`,
  });
}
