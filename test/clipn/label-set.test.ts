import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTemplate, parseLabelSet } from '../../src/clipn/index.js';
import { isClipnError } from '../../src/errors.js';

const invalid = (value: unknown, field: RegExp) => () =>
  assert.throws(() => parseLabelSet(value, 'sets/x.json'), (e: unknown) => isClipnError(e, 'LABEL_SET_INVALID') && field.test((e as Error).message) && /^sets\/x\.json: /.test((e as Error).message));

test('defaults: version 1, routing atd, no templates or thresholds; the result is frozen', () => {
  const ls = parseLabelSet({ id: 'shapes', labels: ['circle', 'square'] });
  assert.equal(ls.version, 1);
  assert.deepEqual(ls.routing, { rule: 'atd' });
  assert.equal(ls.templates, undefined);
  assert.ok(Object.isFrozen(ls));
});

test('thresholds must lie strictly inside (0, 1)', () => {
  for (const bad of [0, 1, -0.1, 1.5]) invalid({ id: 'x', labels: ['a'], routing: { rule: 'calibrated' }, thresholds: { ctw: bad } }, /thresholds\.ctw/)();
  const ok = parseLabelSet({ id: 'x', labels: ['a'], routing: { rule: 'calibrated' }, thresholds: { atd: 0.42 } });
  assert.equal(ok.thresholds?.atd, 0.42);
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
