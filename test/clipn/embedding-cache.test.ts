import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddingCache, type CacheKey } from '../../src/clipn/index.js';

const key = (label: string, over: Partial<CacheKey> = {}): CacheKey => ({ modelVersion: 'm@1', tower: 'yes', promptVersion: '', template: 'a {}', label, ...over });
const vec = (v: number) => Float32Array.from([v, v + 1, v + 2]);

test('the memory bound evicts the least recently used entry and counts hits and misses', async () => {
  const cache = new EmbeddingCache({ maxEntries: 2, dir: null });
  await cache.set(key('a'), vec(1));
  await cache.set(key('b'), vec(2));
  assert.deepEqual(await cache.get(key('a'), 3), vec(1)); // a is now the most recent
  await cache.set(key('c'), vec(3));
  assert.equal(cache.size, 2);
  assert.equal(await cache.get(key('b'), 3), undefined);
  assert.deepEqual(await cache.get(key('a'), 3), vec(1));
  assert.deepEqual(await cache.get(key('c'), 3), vec(3));
  assert.deepEqual(cache.stats, { hits: 3, misses: 1 });
});

test('every part of the key matters, and stored values are copies', async () => {
  const cache = new EmbeddingCache({ maxEntries: 100, dir: null });
  const value = vec(1);
  await cache.set(key('a'), value);
  value[0] = 99;
  assert.deepEqual(await cache.get(key('a'), 3), vec(1));
  for (const other of [{ modelVersion: 'm@2' }, { tower: 'no' as const }, { promptVersion: 'p1' }, { template: 'one {}' }]) {
    assert.equal(await cache.get(key('a', other), 3), undefined, JSON.stringify(other));
  }
  // Fields are not simply concatenated: ("a b", "c") and ("a", "b c") are different keys.
  assert.notEqual(EmbeddingCache.keyOf(key('c', { template: 'a b' })), EmbeddingCache.keyOf(key('b c', { template: 'a' })));
});

test('on disk: one file per key, read back by a new cache; a file of the wrong size is a miss', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-emb-'));
  const first = new EmbeddingCache({ maxEntries: 10, dir });
  await first.set(key('a'), vec(1));
  await first.set(key('b'), vec(2));
  const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.f32'));
  assert.equal(files.length, 2);
  assert.ok(!readdirSync(dir, { recursive: true }).map(String).some((f) => f.endsWith('.tmp')));
  const second = new EmbeddingCache({ maxEntries: 10, dir });
  assert.deepEqual(await second.get(key('a'), 3), vec(1));
  const id = EmbeddingCache.keyOf(key('b'));
  writeFileSync(join(dir, id.slice(0, 2), `${id}.f32`), Buffer.alloc(5));
  assert.equal(await second.get(key('b'), 3), undefined);
  assert.deepEqual(second.stats, { hits: 1, misses: 1 });
});
