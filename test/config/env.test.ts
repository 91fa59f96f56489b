import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envNameOf, envToTree } from '../../src/config/index.js';

test('CLIPN_ names map to nested camelCase paths, remembering the variable of each', () => {
  const { tree, sources } = envToTree({
    CLIPN_PROCESSING__MAX_WAIT_MS: '5',
    CLIPN_KAFKA__TOPICS__DEAD_LETTER: 'dlq',
    CLIPN_PROCESSING__REVIEW__TOP_K: '3',
    OTHER: 'x',
    CLIPN_CONFIG: 'c.json',
    CLIPN_KAFKA_PORT: '19092',
    CLIPN_UNSET__X: undefined,
  });
  assert.deepEqual(tree, { processing: { maxWaitMs: '5', review: { topK: '3' } }, kafka: { topics: { deadLetter: 'dlq' } } });
  assert.deepEqual([...sources], [
    ['processing.maxWaitMs', 'CLIPN_PROCESSING__MAX_WAIT_MS'],
    ['kafka.topics.deadLetter', 'CLIPN_KAFKA__TOPICS__DEAD_LETTER'],
    ['processing.review.topK', 'CLIPN_PROCESSING__REVIEW__TOP_K'],
  ]);
});

test('a group and its member both set: the member wins in either order of the environment', () => {
  const expected = { kafka: { sasl: { username: 'u' } } };
  assert.deepEqual(envToTree({ CLIPN_KAFKA__SASL: 'null', CLIPN_KAFKA__SASL__USERNAME: 'u' }).tree, expected);
  assert.deepEqual(envToTree({ CLIPN_KAFKA__SASL__USERNAME: 'u', CLIPN_KAFKA__SASL: 'null' }).tree, expected);
});

test('variable names are the inverse of the mapping', () => {
  for (const path of ['processing.maxBatch', 'kafka.topics.deadLetter', 'processing.review.topK', 'images.fetch.allowPrivateNetworks', 'telemetry.otlpEndpoint']) {
    const name = envNameOf(path);
    assert.match(name, /^CLIPN_[A-Z0-9_]+$/);
    assert.deepEqual([...envToTree({ [name]: 'v' }).sources.keys()], [path]);
  }
  assert.equal(envNameOf('processing.maxBatch'), 'CLIPN_PROCESSING__MAX_BATCH');
});
