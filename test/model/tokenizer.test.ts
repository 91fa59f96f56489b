import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipTokenizer, loadBundle } from '../../src/model/index.js';
import { ROOT } from '../helpers/clipn-cli.js';

const fixture = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'tokenizer', 'open-clip-cases.json'), 'utf8')) as {
  cases: Array<{ text: string; ids: number[] }>;
};

test("ids equal open_clip's where its ftfy and html.unescape cleaning changes the text", async () => {
  const tokenizer = await ClipTokenizer.fromBundle(await loadBundle(join(ROOT, 'models', 'demo')));
  assert.ok(fixture.cases.length >= 20);
  for (const { text, ids } of fixture.cases) {
    assert.deepEqual(Array.from(tokenizer.encode([text]), Number), ids, `ids differ for ${JSON.stringify(text)}`);
  }
});

test('a batch is rows of contextLength, zero padded, with over-long texts ending in the end token', async () => {
  const bundle = await loadBundle(join(ROOT, 'models', 'demo'));
  const tokenizer = await ClipTokenizer.fromBundle(bundle);
  const { contextLength, sotTokenId, eotTokenId } = bundle.manifest.tokenizer;
  const texts = ['a circle', 'word '.repeat(200), ''];
  const ids = tokenizer.encode(texts);
  assert.equal(ids.length, texts.length * contextLength);
  const row = (i: number) => Array.from(ids.subarray(i * contextLength, (i + 1) * contextLength), Number);
  // Each row equals the text tokenized alone.
  texts.forEach((t, i) => assert.deepEqual(row(i), Array.from(tokenizer.encode([t]), Number)));
  assert.equal(row(1)[0], sotTokenId);
  assert.equal(row(1)[contextLength - 1], eotTokenId);
  assert.ok(row(1).every((v) => v !== 0));
  assert.deepEqual(row(2).slice(0, 3), [sotTokenId, eotTokenId, 0]);
  assert.equal(tokenizer.encode([]).length, 0);
});
