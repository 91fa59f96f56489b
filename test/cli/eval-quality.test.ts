/** `clipn eval` on the demo model's held-out sets reproduces the numbers recorded beside the model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clipn, ROOT } from '../helpers/clipn-cli.js';

test('eval reproduces models/demo/quality.json', { timeout: 120_000 }, async () => {
  const quality = JSON.parse(readFileSync(join(ROOT, 'models', 'demo', 'quality.json'), 'utf8')) as {
    result: { idAccuracy: number; idImages: number; ood: Record<string, Record<string, { auroc: number; fpr95: number }>>; mean: Record<string, { auroc: number; fpr95: number }> };
  };
  const held = join(ROOT, 'models', 'demo-heldout');
  const oods = Object.keys(quality.result.ood).flatMap((name) => ['--ood', join(held, 'ood', name)]);
  const { code, stdout, stderr } = await clipn(['eval', '--json', '--id', join(held, 'id'), ...oods, '--labels', join(ROOT, 'models', 'demo', 'labels.json')]);
  assert.equal(code, 0, stderr);
  const got = JSON.parse(stdout) as { idAccuracy: number; ood: Record<string, Record<string, { auroc: number; fpr95: number }>>; mean: Record<string, { auroc: number; fpr95: number }> };
  const nId = quality.result.idImages;
  // Exact but for single swapped pairs: CTW, ATD and MSP are ranked by their log-odds (no ties,
  // unlike the saturating probabilities), so what remains is the runtime's own arithmetic: sharp
  // and Pillow differ by up to one 8-bit level on edges, and ONNX Runtime's last float bits
  // differ between CPUs. Either can swap an ID image and an OOD image whose scores lie within
  // ~1e-3 of each other; allow two such pairs (1/(n_id x n_ood) of AUROC each), one image of
  // FPR95 (1/n_ood) and one image of accuracy (1/n_id).
  assert.ok(Math.abs(got.idAccuracy - quality.result.idAccuracy) <= 1 / nId + 1e-9, `ID accuracy ${got.idAccuracy} vs ${quality.result.idAccuracy}`);
  // The recorded file names the scores in Python style (max_logit); the CLI in JSON style (maxLogit).
  const names: Array<[string, string]> = [['ctw', 'ctw'], ['atd', 'atd'], ['msp', 'msp'], ['maxLogit', 'max_logit'], ['energy', 'energy']];
  for (const [set, row] of Object.entries(quality.result.ood)) {
    const nOod = (row as unknown as { images: number }).images;
    for (const [ts, py] of names) {
      const a = got.ood[set]![ts]!;
      const want = row[py]!;
      assert.ok(Math.abs(a.auroc - want.auroc) <= 2 / (nId * nOod) + 1e-9, `${set} ${ts} AUROC ${a.auroc} vs ${want.auroc}`);
      assert.ok(Math.abs(a.fpr95 - want.fpr95) <= 1 / nOod + 1e-9, `${set} ${ts} FPR95 ${a.fpr95} vs ${want.fpr95}`);
    }
  }
});
