// The origin file set as folders: what a folder URL lists (its subfolders and files), built once per origin index.
import type { FileIndex } from './fileIndex.js';

export interface FolderEntries {
  /** Subfolder names, sorted. */
  readonly folders: readonly string[];
  /** File numbers directly in the folder, sorted by name. */
  readonly files: readonly number[];
}

// Built on the first listing of an index: a million files cost one pass, then every listing is a lookup.
const trees = new WeakMap<FileIndex, Map<string, { folders: Set<string>; files: number[] }>>();

function treeOf(files: FileIndex): Map<string, { folders: Set<string>; files: number[] }> {
  let tree = trees.get(files);
  if (tree) return tree;
  tree = new Map();
  const at = (folder: string) => {
    let node = tree!.get(folder);
    if (!node) tree!.set(folder, (node = { folders: new Set(), files: [] }));
    return node;
  };
  at('');
  for (let f = 0; f < files.count; f++) {
    const path = files.paths[f]!;
    const slash = path.lastIndexOf('/');
    const folder = slash < 0 ? '' : path.slice(0, slash);
    const node = tree.get(folder);
    if (node) {
      node.files.push(f);
      continue;
    }
    at(folder).files.push(f);
    // A folder seen for the first time: tie it (and any new ancestors) to its parent.
    let child = folder;
    while (child !== '') {
      const up = child.lastIndexOf('/');
      const parent = up < 0 ? '' : child.slice(0, up);
      const known = tree.has(parent);
      at(parent).folders.add(up < 0 ? child : child.slice(up + 1));
      if (known) break;
      child = parent;
    }
  }
  trees.set(files, tree);
  return tree;
}

/** The entries of `folder` ("" for the top, else a path without a trailing slash), or undefined when no file lies below it. */
export function folderEntries(files: FileIndex, folder: string): FolderEntries | undefined {
  const node = treeOf(files).get(folder);
  if (!node || (node.files.length === 0 && node.folders.size === 0)) return undefined;
  const names = (f: number) => files.paths[f]!.slice(files.paths[f]!.lastIndexOf('/') + 1);
  return {
    folders: [...node.folders].sort(),
    files: [...node.files].sort((a, b) => (names(a) < names(b) ? -1 : names(a) > names(b) ? 1 : 0)),
  };
}

/** The nearest folder above `path` that exists in the file set ("" at the top). */
export function nearestFolder(files: FileIndex, path: string): string {
  let folder = path;
  while (folder !== '') {
    const up = folder.lastIndexOf('/');
    folder = up < 0 ? '' : folder.slice(0, up);
    if (treeOf(files).has(folder)) return folder;
  }
  return '';
}
