import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layering ARCHITECTURE.md describes, checked on the source text: pages draw and call
 * operations, never storage or the test engine (its decline texts come through the connector
 * interface); operations never see Kysely (storage owns the query builder and its types).
 */

const sourceRoot = dirname(fileURLToPath(import.meta.url));

function typeScriptFilesUnder(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...typeScriptFilesUnder(path));
    else if (entry.name.endsWith('.ts')) files.push(path);
  }
  return files;
}

/** Every module a file names: static imports and re-exports (`import type` too), and import(). */
export function importedModules(sourceText: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  return [...sourceText.matchAll(pattern)].map((match) => match[1]);
}

function offenders(folder: string, forbidden: (specifier: string) => boolean): string[] {
  const found: string[] = [];
  for (const file of typeScriptFilesUnder(join(sourceRoot, folder))) {
    for (const specifier of importedModules(readFileSync(file, 'utf8'))) {
      if (forbidden(specifier)) found.push(`${relative(sourceRoot, file)} imports ${specifier}`);
    }
  }
  return found;
}

test('the import finder sees every form of import', () => {
  const text = [
    "import { a } from '../../storage/payments.ts';",
    "import type { B } from \"../../storage/schema.ts\";",
    "export { c } from '../storage/c.ts';",
    "import '../storage/side-effect.ts';",
    "const lazy = await import('../storage/lazy.ts');",
    'import {\n  d,\n  e,\n} from \'kysely\';',
  ].join('\n');
  assert.deepEqual(importedModules(text), [
    '../../storage/payments.ts', '../../storage/schema.ts', '../storage/c.ts', '../storage/side-effect.ts',
    '../storage/lazy.ts', 'kysely',
  ]);
});

test('no file under src/http/pages imports storage or the test engine', () => {
  const forbidden = (specifier: string) =>
    /(^|\/)storage\//.test(specifier) || /acquirers\/test-engine/.test(specifier);
  assert.deepEqual(offenders('http/pages', forbidden), []);
});

test('no file under src/console imports storage or the test engine: its pages call operations', () => {
  const forbidden = (specifier: string) =>
    /(^|\/)storage\//.test(specifier) || /acquirers\/test-engine/.test(specifier) || specifier === 'kysely';
  assert.deepEqual(offenders('console', forbidden).filter((line) => !line.includes('.test.ts')), []);
});

test('no file under src/operations imports Kysely', () => {
  const forbidden = (specifier: string) => specifier === 'kysely' || specifier.startsWith('kysely/');
  assert.deepEqual(offenders('operations', forbidden), []);
});
