import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configReference, configSchema, envToTree, loadConfig, renderConfigReference } from '../../src/config/index.js';

// A setting whose value is an object (a colour as {r, g, b}) is one leaf: `stop` holds such paths.
const leaves = (node: unknown, prefix: string[] = [], stop: ReadonlySet<string> = new Set()): string[] =>
  node !== null && typeof node === 'object' && !Array.isArray(node) && !stop.has(prefix.join('.'))
    ? Object.entries(node).flatMap(([k, v]) => leaves(v, [...prefix, k], stop))
    : [prefix.join('.')];

test('every setting of the loaded defaults is in the reference, with a meaning and its default as written', () => {
  const defaults = configSchema.parse({});
  assert.deepEqual(leaves(loadConfig({ env: {} }), [], new Set(['images.background'])), leaves(defaults, [], new Set(['images.background'])));
  const keys = configReference();
  const byPath = new Map(keys.map((k) => [k.path, k]));
  for (const path of leaves(defaults, [], new Set(['images.background']))) {
    const key = byPath.get(path);
    assert.ok(key, `${path} is documented`);
    assert.ok(key.meaning.length > 10, `${path} has a meaning`);
    const value = path.split('.').reduce<unknown>((n, p) => (n as Record<string, unknown>)[p], defaults);
    assert.deepEqual(key.default, value, path);
  }
  for (const sub of ['kafka.sasl.mechanism', 'kafka.sasl.username', 'kafka.sasl.password']) assert.ok(byPath.has(sub), sub);
});

test('each documented variable sets its setting', () => {
  for (const key of configReference()) {
    const { sources } = envToTree({ [key.env]: 'x' });
    assert.deepEqual([...sources.keys()], [key.path], key.env);
  }
});

test('docs/config.md is the rendered reference (regenerate it from renderConfigReference when settings change)', () => {
  assert.equal(readFileSync('docs/config.md', 'utf8'), renderConfigReference());
});
