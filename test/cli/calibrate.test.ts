import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLabelSet } from '../../src/clipn/index.js';
import { ROOT, clipn } from '../helpers/clipn-cli.js';

const ID = join(ROOT, 'models', 'demo-heldout', 'id');
const LABELS = join(ROOT, 'models', 'demo', 'labels.json');

test('calibrate writes a calibrated label set whose thresholds keep the asked share of ID images', { timeout: 120_000 }, async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'clipn-cal-')), 'calibrated.json');
  const cal = await clipn(['calibrate', '--id', ID, '--labels', LABELS, '--tpr', '0.9', '--out', out]);
  assert.equal(cal.code, 0, cal.stderr);
  const written = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
  const labelSet = parseLabelSet(written); // the file is a valid label set
  const source = JSON.parse(readFileSync(LABELS, 'utf8')) as { labels: string[]; version: number };
  assert.deepEqual(labelSet.labels, source.labels);
  assert.equal(labelSet.version, source.version + 1);
  assert.equal(labelSet.routing.rule, 'calibrated');
  assert.equal(written.calibration.tpr, 0.9);

  // Classifying the same ID images with it: at least 90% kept by each score, OOD flags follow the thresholds.
  const run = await clipn(['classify', '--labels', out, '--json', ID]);
  assert.equal(run.code, 0, run.stderr);
  const rows = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  assert.equal(rows.length, written.calibration.idImages);
  for (const name of ['ctw', 'atd'] as const) {
    const t = labelSet.thresholds![name]!;
    const kept = rows.filter((r) => r.scores[name] >= t).length;
    assert.ok(kept >= 0.9 * rows.length, `${name}: kept ${kept} of ${rows.length}`);
    // The threshold is an ID score itself: keeping fewer would need a higher one.
    assert.ok(rows.some((r) => r.scores[name] === t));
    for (const r of rows) assert.equal(r.ood[name], r.scores[name] < t);
  }
});

test('calibrate refuses a share outside (0, 1] and an empty ID folder, with coded messages', { timeout: 60_000 }, async () => {
  const bad = await clipn(['calibrate', '--id', ID, '--labels', LABELS, '--tpr', '1.5']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /CONFIG_INVALID: --tpr: expected a share in \(0, 1\], got 1\.5/);
  const empty = await clipn(['calibrate', '--id', mkdtempSync(join(tmpdir(), 'clipn-empty-')), '--labels', LABELS]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /INPUT_INVALID: .*no readable ID images/);
  // Keeping only the top 1% lands on scores that are exactly 1 in float64 for the demo model.
  const saturated = await clipn(['calibrate', '--id', ID, '--labels', LABELS, '--tpr', '0.01']);
  assert.equal(saturated.code, 1);
  assert.match(saturated.stderr, /INPUT_INVALID: --tpr 0\.01: the ctw threshold that keeps this share is 1, expected a value inside \(0, 1\)/);
});
