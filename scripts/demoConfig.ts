// The bundled demo config, copied elsewhere with a dataDir of its own: for the bench and the tests, which
// run the demo network beside each other (and beside a developer's `npm start`) while memory mode allows
// one instance per dataDir.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isScalar, parseDocument, visit } from 'yaml';

export const DEMO_CONFIG = fileURLToPath(new URL('../config/mirrorgate.yaml', import.meta.url));

/** Writes `<dir>/mirrorgate.yaml`: the demo config with its relative paths made absolute and `dataDir` at `<dir>/var`. */
export async function writeDemoConfig(dir: string): Promise<string> {
  const doc = parseDocument(await readFile(DEMO_CONFIG, 'utf8'));
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'string' && /^\.\.?\//.test(node.value)) {
        node.value = path.resolve(path.dirname(DEMO_CONFIG), node.value);
      }
    },
  });
  doc.set('dataDir', path.join(dir, 'var'));
  const file = path.join(dir, 'mirrorgate.yaml');
  await writeFile(file, doc.toString());
  return file;
}
