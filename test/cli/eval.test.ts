import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ROOT, clipn, mannWhitney } from '../helpers/clipn-cli.js';

const HELD = join(ROOT, 'models', 'demo-heldout');
const LABELS = join(ROOT, 'models', 'demo', 'labels.json');
const NAMES = ['ctw', 'atd', 'msp', 'maxLogit', 'energy'] as const;
// What eval ranks each score by: the saturating probabilities through their log-odds.
const RANKED_BY = { ctw: 'ctwLogOdds', atd: 'atdLogOdds', msp: 'mspLogOdds', maxLogit: 'maxLogit', energy: 'energy' } as const;

test('eval --json: AUROC per score and OOD set equals the Mann-Whitney statistic of the classify scores; accuracy; ROC PNG', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-eval-'));
  // A bad file in the ID folder is counted as a failure and left out, not fatal.
  cpSync(join(HELD, 'id'), join(dir, 'id'), { recursive: true });
  writeFileSync(join(dir, 'id', 'circle', 'broken.png'), 'not a png');
  const roc = join(dir, 'roc.png');
  const oods = ['arrow', 'heart'].map((n) => join(HELD, 'ood', n));
  const { code, stdout, stderr } = await clipn(['eval', '--id', join(dir, 'id'), ...oods.flatMap((o) => ['--ood', o]), '--labels', LABELS, '--json', '--roc', roc]);
  assert.equal(code, 0, stderr);
  const r = JSON.parse(stdout) as Record<string, any>;
  assert.equal(r.failures, 1);

  const scoresOf = async (folder: string) => {
    const out = await clipn(['classify', '--labels', LABELS, '--json', folder]);
    return out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>).filter((l) => !l.error);
  };
  const id = await scoresOf(join(HELD, 'id'));
  assert.equal(r.idImages, id.length);
  const truth = id.map((l) => (l.file as string).split('/').at(-2));
  assert.ok(Math.abs(r.idAccuracy - id.filter((l, i) => l.label === truth[i]).length / id.length) < 1e-12);
  for (const [k, folder] of oods.entries()) {
    const ood = await scoresOf(folder);
    const row = r.ood[['arrow', 'heart'][k]!];
    assert.equal(row.images, ood.length);
    for (const name of NAMES) {
      const want = mannWhitney(id.map((l) => l.scores[RANKED_BY[name]]), ood.map((l) => l.scores[RANKED_BY[name]]));
      assert.ok(Math.abs(row[name].auroc - want) < 1e-9, `${name}: ${row[name].auroc} vs ${want}`);
      assert.ok(row[name].fpr95 >= 0 && row[name].fpr95 <= 1);
    }
  }
  for (const name of NAMES) assert.ok(Math.abs(r.mean[name].auroc - (r.ood.arrow[name].auroc + r.ood.heart[name].auroc) / 2) < 1e-12);

  assert.ok(existsSync(roc));
  const meta = await sharp(readFileSync(roc)).metadata();
  assert.equal(meta.format, 'png');
  assert.ok((meta.width ?? 0) > 100 && (meta.height ?? 0) > 100);
});

test('eval prints a table by default and fails with a coded message on a bad label set', { timeout: 60_000 }, async () => {
  const ok = await clipn(['eval', '--id', join(HELD, 'id', 'star'), '--ood', join(HELD, 'ood', 'heart'), '--labels', 'star,circle']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /heart/);
  assert.match(ok.stdout, /mean/);
  const bad = await clipn(['eval', '--id', join(HELD, 'id'), '--ood', join(HELD, 'ood', 'heart'), '--labels', 'a,a']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /LABEL_SET_INVALID/);
});
