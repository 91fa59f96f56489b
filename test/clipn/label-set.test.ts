import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTemplate, parseLabelSet } from '../../src/clipn/index.js';
import { isClipnError } from '../../src/errors.js';

const invalid = (value: unknown, field: RegExp) => () =>
  assert.throws(() => parseLabelSet(value, 'sets/x.json'), (e: unknown) => isClipnError(e, 'LABEL_SET_INVALID') && field.test((e as Error).message) && /^sets\/x\.json: /.test((e as Error).message));

test('defaults: version 1, routing atd, no templates or thresholds; the result is frozen', () => {
  const ls = parseLabelSet({ id: 'shapes', labels: ['circle', 'square'] });
  assert.equal(ls.version, 1);
  assert.deepEqual(ls.routing, { rule: 'atd', params: {} });
  assert.equal(ls.templates, undefined);
  assert.ok(Object.isFrozen(ls));
});

test('thresholds are finite log-odds; probability-style names are refused by name', () => {
  for (const bad of [Infinity, -Infinity, Number.NaN, '3']) invalid({ id: 'x', labels: ['a'], routing: { rule: 'calibrated' }, thresholds: { ctwLogOdds: bad } }, /thresholds\.ctwLogOdds/)();
  invalid({ id: 'x', labels: ['a'], routing: { rule: 'calibrated' }, thresholds: { atd: 0.9 } }, /thresholds\.atd: expected atdLogOdds \(log-odds from clipn calibrate\), got a probability threshold "atd"/)();
  const ok = parseLabelSet({ id: 'x', labels: ['a'], routing: { rule: 'calibrated' }, thresholds: { atdLogOdds: -2.5 } });
  assert.equal(ok.thresholds?.atdLogOdds, -2.5);
});

test('blank ids and labels, wrong types and unknown rules name their field', () => {
  invalid({ id: '  ', labels: ['a'] }, /id:/)();
  invalid({ id: 'x', labels: ['a', '   '] }, /labels\.1: a label must not be blank/)();
  invalid({ id: 'x', labels: 'a,b' }, /labels:/)();
  invalid({ id: 'x', labels: ['a'], version: 1.5 }, /version/)();
  invalid({ id: 'x', labels: ['a'], templates: [] }, /templates/)();
  invalid(null, /\(root\)/)();
});

test('labels are trimmed before the uniqueness check', () => {
  assert.deepEqual(parseLabelSet({ id: 'x', labels: [' cat', 'dog '] }).labels, ['cat', 'dog']);
  invalid({ id: 'x', labels: ['cat', ' cat '] }, /unique/)();
});

test("formatTemplate follows Python's str.format for one positional field", () => {
  assert.equal(formatTemplate('a photo of a {}.', 'dog'), 'a photo of a dog.');
  // Lines from templates.txt are formatted as they are, surrounding quotes included.
  assert.equal(formatTemplate("'a bad photo of a {}.'", 'dog'), "'a bad photo of a dog.'");
  assert.equal(formatTemplate('{{literal}} {}', 'cat'), '{literal} cat');
  // The label is inserted verbatim: braces and $ patterns in it are not interpreted.
  assert.equal(formatTemplate('a {}', '{} $& $1'), 'a {} $& $1');
});

test('a label set decoded from its Avro record (class instances, not plain objects) validates', async () => {
  const { createCodec } = await import('../../src/codec/index.js');
  const codec = createCodec({ registryUrl: null });
  const record = { id: 'x', version: 3, labels: ['a', 'b'], templates: null, routing: { rule: 'calibrated', params: {} }, thresholds: { ctwLogOdds: null, atdLogOdds: 4.5 }, description: null, updatedAt: 1 };
  const decoded = (await codec.decode(await codec.encode('LabelSet', record), 'LabelSet')).value;
  const ls = parseLabelSet(decoded);
  assert.equal(ls.thresholds?.atdLogOdds, 4.5);
  assert.equal(ls.routing.rule, 'calibrated');
});
