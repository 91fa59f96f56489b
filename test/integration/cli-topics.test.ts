/** `clipn labels put|list` and `clipn review tail` against the real broker. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCodec } from '../../src/codec/index.js';
import { exampleRecords } from '../helpers/records.js';
import { createTopics, produce, testKafka } from './helpers/kafka.js';
import { sidecarEnv, testTopics } from './helpers/sidecar.js';
import { clipn } from '../helpers/clipn-cli.js';

test('labels put validates and publishes; labels list shows the latest version per id', { timeout: 120_000 }, async () => {
  const topics = testTopics();
  const env = sidecarEnv(topics, 'unused');
  const dir = mkdtempSync(join(tmpdir(), 'clipn-labels-'));
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ id: 'animals', version: 1, labels: ['cat', 'dog'], routing: { rule: 'either' } }));
  assert.equal((await clipn(['labels', 'put', good], env)).code, 0);
  writeFileSync(good, JSON.stringify({ id: 'animals', version: 2, labels: ['cat', 'dog', 'bird'], routing: { rule: 'atd' } }));
  assert.equal((await clipn(['labels', 'put', good], env)).code, 0);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ id: 'x', version: 1, labels: ['a'], routing: { rule: 'Some Rule!' } }));
  const refused = await clipn(['labels', 'put', bad], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /LABEL_SET_INVALID.*routing\.rule/);
  const list = await clipn(['labels', 'list', '--json'], env);
  assert.equal(list.code, 0, list.stderr);
  const sets = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; version: number; labels: string[] });
  assert.deepEqual(sets.map((s) => [s.id, s.version, s.labels.length]), [['animals', 2, 3]]);
});

test('review tail prints review items as a person reads them, and as JSON', { timeout: 120_000 }, async () => {
  const kafka = testKafka();
  const topics = testTopics();
  await createTopics(kafka, [{ topic: topics.review, partitions: 1 }]);
  const codec = createCodec({ registryUrl: null });
  const item = exampleRecords().ReviewItem as Record<string, unknown>;
  await produce(kafka, topics.review, [{ key: 'img-1', value: await codec.encode('ReviewItem', item) }]);
  const env = sidecarEnv(topics, 'unused');
  const text = await clipn(['review', 'tail', '--from-beginning', '--max', '1'], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /img-1 {2}class star {2}log-odds ctw 0\.85 atd 1\.39/);
  assert.match(text.stdout, /image https:\/\/images\.example\/1\.png/);
  const json = await clipn(['review', 'tail', '--from-beginning', '--max', '1', '--json'], env);
  const parsed = JSON.parse(json.stdout.trim()) as Record<string, unknown>;
  assert.equal(parsed.id, 'img-1');
  assert.equal(parsed.imageEmbedding, undefined);
});
