/**
 * Every package that shipped code (src/, plugins/, bin/) imports is a runtime dependency, at an
 * exact version: an undeclared one works here only because something else pulled it into
 * node_modules, and breaks an install from the registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/clipn-cli.js';

const SHIPPED = ['src', 'plugins', 'bin'];
const CODE = /\.(?:[cm]?[jt]s|tsx)$/;

// Static imports and re-exports (`import … from 'x'`, `export … from 'x'`, `import 'x'`),
// dynamic `import('x')`, `import.meta.resolve('x')`, and `require('x')` / `createRequire(...)('x')`.
// A side-effect import starts a statement: not the word in a string (`'--import'`, `'… to import'`).
const SPECIFIERS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /(?:^|;)\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bimport\.meta\.resolve\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bcreateRequire\s*\([^)]*\)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : files(path);
    return CODE.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The package a bare specifier names (`@a/b/c` → `@a/b`, `x/y` → `x`); null for relative paths and builtins. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || specifier.startsWith('#')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return builtinModules.includes(name) ? null : name;
}

/** The bare import specifiers of one source text. */
export function specifiersOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return SPECIFIERS.flatMap((re) => [...code.matchAll(re)].map((m) => m[1]!));
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };

test('the scanner finds every import form and maps specifiers to packages', () => {
  const found = specifiersOf([
    "import { a } from '@scope/pkg/sub';",
    "import type { B } from 'typed';",
    "import 'side-effect';",
    "export { c } from 're-export/deep';",
    "const m = await import('dynamic');",
    "const loader = ['--import', import.meta.resolve('resolved')];",
    "throw new Error('not a module to import');",
    "const k = createRequire(import.meta.url)('required');",
    "import { x } from './local.js';",
    '// import { y } from "commented";',
  ].join('\n'));
  assert.deepEqual(new Set(found.map(packageOf).filter((p) => p !== null)), new Set(['@scope/pkg', 'typed', 'side-effect', 're-export', 'dynamic', 'resolved', 'required']));
  assert.equal(packageOf('node:fs'), null);
  assert.equal(packageOf('fs/promises'), null);
  assert.equal(packageOf('crypto'), null);
});

test('every package src/, plugins/ and bin/ import is a dependency (not a devDependency)', () => {
  const missing = new Map<string, string[]>();
  for (const dir of SHIPPED) {
    for (const file of files(join(ROOT, dir))) {
      for (const spec of specifiersOf(readFileSync(file, 'utf8'))) {
        const name = packageOf(spec);
        if (name === null || pkg.dependencies?.[name] !== undefined) continue;
        missing.set(name, [...(missing.get(name) ?? []), relative(ROOT, file)]);
      }
    }
  }
  assert.deepEqual(Object.fromEntries(missing), {}, 'imported by shipped code but not in package.json dependencies');
});

test('every declared dependency is pinned to an exact version', () => {
  for (const [field, deps] of Object.entries({ dependencies: pkg.dependencies ?? {}, devDependencies: pkg.devDependencies ?? {} })) {
    for (const [name, version] of Object.entries(deps)) assert.match(version, /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, `${field}.${name} is ${version}, expected an exact version`);
  }
});
