import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadBundle } from '../../src/model/index.js';
import { knownTextFilter } from '../../src/trainer/text-filter.js';

test('the demo model knows its world words and refuses others', async () => {
  const known = await knownTextFilter(await loadBundle(join(import.meta.dirname, '..', '..', 'models', 'demo')));
  assert.ok(known, 'the demo bundle has a vocabulary subset');
  assert.equal(known('a circle'), true);
  assert.equal(known('a crescent'), true);
  assert.equal(known('a photograph of my grandmother'), false);
});
