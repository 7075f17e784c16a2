// Tidy: checks on the code itself, after TigerBeetle's src/tidy.zig. Functions stay under
// 70 lines and lines under 120 columns. Code that broke a rule before the rule existed is listed
// in src/tidy-baseline.json, a list that may only shrink: a new offender fails, a listed one
// that grew fails, and a listed one that no longer offends fails until it is removed from the
// list. `TIDY_WRITE_BASELINE=1 npm test -- src/tidy.test.ts` rewrites the list from the code as
// it is (for a deliberate change, such as the formatting commit; the diff shows what moved).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const functionLinesMax = 70;
const lineColumnsMax = 120;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const baselinePath = join(root, 'src', 'tidy-baseline.json');
/** Where code lives (dist/, node_modules/ and data are not walked). */
const sourceFolders = ['src', 'bench', 'scripts', 'bin', 'packages/sdk/src'];
const sourceExtensions = ['.ts', '.mjs'];

interface Baseline {
  /** path → function name → lines of its body today. */
  functionLines: Record<string, Record<string, number>>;
  /** path → how many of its lines are over the limit today. */
  longLines: Record<string, number>;
}

interface FunctionLength {
  name: string;
  lines: number;
}

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (sourceExtensions.some((extension) => entry.name.endsWith(extension))) files.push(path);
    }
  };
  for (const folder of sourceFolders) walk(folder);
  return files.sort();
}

/** Tests are scenarios read top to bottom; the function rule would only split them into
 * helpers used once. The line rule applies to them all the same. */
const functionRuleApplies = (path: string) => !path.endsWith('.test.ts');

function textOf(node: ts.Node | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node) || ts.isStringLiteral(node)) return node.text;
  if (ts.isNumericLiteral(node)) return node.text;
  if (node.kind === ts.SyntaxKind.ThisKeyword) return 'this';
  if (ts.isPropertyAccessExpression(node)) return `${textOf(node.expression) ?? '…'}.${node.name.text}`;
  if (ts.isComputedPropertyName(node)) return `[${textOf(node.expression) ?? '…'}]`;
  return undefined;
}

/** What a call's callback is called: `app.post('/post') callback`, `items.map callback`. */
function callbackName(call: ts.CallExpression): string {
  const callee = textOf(call.expression) ?? 'call';
  const first = call.arguments[0];
  const label = first !== undefined && ts.isStringLiteralLike(first) ? `(${JSON.stringify(first.text)})` : '';
  return `${callee}${label} callback`;
}

/** The name a function is known by where it is defined; undefined for one with no better name. */
function ownName(node: ts.FunctionLikeDeclaration): string | undefined {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name !== undefined) return textOf(node.name);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return textOf(parent.name);
  }
  if (ts.isCallExpression(parent)) return callbackName(parent);
  return undefined;
}

/** The class or named object literal a method (or a function-valued property) belongs to. */
function holderName(node: ts.FunctionLikeDeclaration): string | undefined {
  const parent = node.parent;
  const holder = ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent) ? parent.parent : parent;
  if (ts.isClassLike(holder)) return holder.name?.text ?? 'class';
  if (!ts.isObjectLiteralExpression(holder)) return undefined;
  const declaration = holder.parent;
  const named = ts.isVariableDeclaration(declaration) || ts.isPropertyAssignment(declaration);
  return named ? textOf(declaration.name) : undefined;
}

function localName(node: ts.FunctionLikeDeclaration): string {
  const own = ownName(node) ?? 'function';
  const holder = holderName(node);
  return holder === undefined ? own : `${holder}.${own}`;
}

/** Lines of a function's body, braces included: a long parameter list does not count. */
function bodyLines(sourceFile: ts.SourceFile, body: ts.Node): number {
  const first = sourceFile.getLineAndCharacterOfPosition(body.getStart(sourceFile)).line;
  const last = sourceFile.getLineAndCharacterOfPosition(body.getEnd()).line;
  return last - first + 1;
}

/** Every function with a body (declarations, methods, accessors, constructors, arrow functions,
 * function expressions), named by where it sits: `outer > inner`, `Class.method`, with ` #2`
 * for a second function of the same name in the file. */
function functionLengths(path: string, text: string): FunctionLength[] {
  const kind = path.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const sourceFile = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, kind);
  const found: FunctionLength[] = [];
  const seen = new Map<string, number>();
  const visit = (node: ts.Node, enclosing: string[]) => {
    let inner = enclosing;
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const declaration = node as ts.FunctionLikeDeclaration & { body: ts.Node };
      inner = [...enclosing, localName(declaration)];
      const base = inner.join(' > ');
      const count = (seen.get(base) ?? 0) + 1;
      seen.set(base, count);
      found.push({ name: count === 1 ? base : `${base} #${count}`, lines: bodyLines(sourceFile, declaration.body) });
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(sourceFile, []);
  return found;
}

/** Columns are characters, not bytes (the pages carry Cyrillic). A line is let off only when a
 * URL, which cannot be wrapped, is what makes it long. */
function longLineCount(text: string): number {
  let count = 0;
  for (const line of text.split('\n')) {
    if ([...line].length <= lineColumnsMax) continue;
    const withoutUrls = line.replace(/https?:\/\/\S+/g, '');
    if (withoutUrls !== line && [...withoutUrls].length <= lineColumnsMax) continue;
    count += 1;
  }
  return count;
}

function measure(): Baseline {
  const measured: Baseline = { functionLines: {}, longLines: {} };
  for (const path of sourceFiles()) {
    const text = readFileSync(join(root, path), 'utf8');
    const long = longLineCount(text);
    if (long > 0) measured.longLines[path] = long;
    if (!functionRuleApplies(path)) continue;
    const offenders = functionLengths(path, text).filter((found) => found.lines > functionLinesMax);
    if (offenders.length > 0) {
      measured.functionLines[path] = Object.fromEntries(offenders.map((found) => [found.name, found.lines]));
    }
  }
  return measured;
}

const writing = process.env.TIDY_WRITE_BASELINE === '1';
const measured = measure();
if (writing) writeFileSync(baselinePath, `${JSON.stringify(measured, null, 2)}\n`);
const baseline = JSON.parse(readFileSync(baselinePath, 'utf8')) as Baseline;
const howToUpdate = 'fix the code, or after a deliberate change run: TIDY_WRITE_BASELINE=1 npm test -- src/tidy.test.ts';

/** Problems of one rule against the baseline: new, grown, and no longer offending entries. */
function ratchet(now: Map<string, number>, allowed: Map<string, number>, limit: string): string[] {
  const problems: string[] = [];
  for (const [key, value] of now) {
    const before = allowed.get(key);
    if (before === undefined) problems.push(`${key}: ${value} (${limit})`);
    else if (value > before) problems.push(`${key}: ${value}, up from ${before} in the baseline (${limit})`);
  }
  for (const [key, before] of allowed) {
    if (!now.has(key)) problems.push(`${key}: no longer over the limit (baseline ${before}): remove it from the baseline`);
  }
  return problems;
}

function flatten(byFile: Record<string, Record<string, number>>): Map<string, number> {
  return new Map(Object.entries(byFile).flatMap(([path, names]) =>
    Object.entries(names).map(([name, lines]) => [`${path} ${name}`, lines] as const)));
}

test(`functions outside tests are at most ${functionLinesMax} lines, beyond the shrinking baseline`, () => {
  const problems = ratchet(flatten(measured.functionLines), flatten(baseline.functionLines), `lines; limit ${functionLinesMax}`);
  assert.deepEqual(problems, [], `${problems.join('\n')}\n${howToUpdate}`);
});

test(`lines are at most ${lineColumnsMax} columns, beyond the shrinking baseline`, () => {
  const problems = ratchet(new Map(Object.entries(measured.longLines)), new Map(Object.entries(baseline.longLines)),
    `lines over ${lineColumnsMax} columns`);
  assert.deepEqual(problems, [], `${problems.join('\n')}\n${howToUpdate}`);
});

test('the function finder names and measures every kind of function', () => {
  const body = (lines: number) => Array.from({ length: lines - 2 }, () => '  work();').join('\n');
  const source = [
    `function declared() {\n${body(71)}\n}`,
    `const arrow = (value: number) => {\n${body(3)}\n};`,
    `class Ledger {\n  constructor() {}\n  post(amount: number) {\n${body(5)}\n  }\n  get total() { return 1; }\n}`,
    `const handlers = { save() { return 1; }, load: function () { return 2; } };`,
    `app.post('/post', async (request) => {\n  return request.items.map((x) => x);\n});`,
    `function outer() {\n  const inner = () => 1;\n  return inner;\n}`,
    `function twice() {\n  items.forEach(() => 1);\n  items.forEach(() => 2);\n  this.queue.push(function () {});\n}`,
  ].join('\n');
  const found = Object.fromEntries(functionLengths('probe.ts', source).map((entry) => [entry.name, entry.lines]));
  assert.deepEqual(found, {
    declared: 71,
    arrow: 3,
    'Ledger.constructor': 1,
    'Ledger.post': 5,
    'Ledger.total': 1,
    'handlers.save': 1,
    'handlers.load': 1,
    'app.post("/post") callback': 3,
    'app.post("/post") callback > request.items.map callback': 1,
    outer: 4,
    'outer > inner': 1,
    twice: 5,
    'twice > items.forEach callback': 1,
    'twice > items.forEach callback #2': 1,
    'twice > this.queue.push callback': 1,
  });
});

test('a long line is one over the column limit, unless a URL is what makes it long', () => {
  const url = `// see https://example.test/${'a'.repeat(150)}`;
  assert.equal(longLineCount(['x'.repeat(120), 'y'.repeat(121), 'д'.repeat(120), url, `${'z'.repeat(121)} ${url}`].join('\n')), 2);
});

test('the baseline fails new, grown and vanished offenders, and lets a shrunk one pass', () => {
  const allowed = new Map([['a.ts f', 80], ['a.ts g', 90], ['a.ts gone', 75]]);
  const now = new Map([['a.ts f', 81], ['a.ts g', 72], ['a.ts new', 71]]);
  assert.deepEqual(ratchet(now, allowed, 'limit'), [
    'a.ts f: 81, up from 80 in the baseline (limit)',
    'a.ts new: 71 (limit)',
    'a.ts gone: no longer over the limit (baseline 75): remove it from the baseline',
  ]);
});
