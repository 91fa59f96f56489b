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
    const field = `${name}LogOdds` as const;
    const t = labelSet.thresholds![field]!;
    const kept = rows.filter((r) => r.scores[field] >= t).length;
    assert.ok(kept >= 0.9 * rows.length, `${name}: kept ${kept} of ${rows.length}`);
    // Log-odds do not tie: the threshold keeps the asked share, not more.
    assert.ok(kept < 0.9 * rows.length + 1, `${name}: kept ${kept} of ${rows.length}`);
    // The threshold is an ID score itself: keeping fewer would need a higher one.
    assert.ok(rows.some((r) => r.scores[field] === t));
    for (const r of rows) assert.equal(r.ood[name], r.scores[field] < t);
  }
});

test('calibrate refuses a share outside (0, 1] and an empty ID folder, with coded messages', { timeout: 60_000 }, async () => {
  const bad = await clipn(['calibrate', '--id', ID, '--labels', LABELS, '--tpr', '1.5']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /CONFIG_INVALID: --tpr: expected a share in \(0, 1\], got 1\.5/);
  const empty = await clipn(['calibrate', '--id', mkdtempSync(join(tmpdir(), 'clipn-empty-')), '--labels', LABELS]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /INPUT_INVALID: .*no readable ID images/);
});

test('calibrate separates the most confident ID images, whose probability scores are exactly 1', { timeout: 60_000 }, async () => {
  // The top 1% of the demo model's ID images have CTW and ATD of exactly 1 in float64: the
  // log-odds still order them, so the threshold is a finite value printed with its score.
  const top = await clipn(['calibrate', '--id', ID, '--labels', LABELS, '--tpr', '0.01']);
  assert.equal(top.code, 0, top.stderr);
  const thresholds = (JSON.parse(top.stdout) as { thresholds: { ctwLogOdds: number; atdLogOdds: number } }).thresholds;
  assert.ok(Number.isFinite(thresholds.ctwLogOdds) && Number.isFinite(thresholds.atdLogOdds));
  assert.ok(thresholds.atdLogOdds > 20, `atd log-odds ${thresholds.atdLogOdds}: the probability would be 1 - 2e-9 or closer`);
  assert.match(top.stderr, /atd log-odds >= \d+\.\d{3} \(score 1\.00000\)/);
});
