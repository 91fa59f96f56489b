/** The soak's arithmetic and how its section lives in bench/RESULTS.md beside the other sections. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepSoakSection, slope, spliceSoakSection } from '../../bench/soak.js';

test('slope is the least-squares slope; undefined for fewer than two points or one x', () => {
  assert.equal(slope([0, 1, 2, 3], [10, 12, 14, 16]), 2);
  assert.ok(Math.abs(slope([0, 1, 2], [1, 0, 2]) - 0.5) < 1e-12);
  assert.ok(Number.isNaN(slope([1], [1])));
  assert.ok(Number.isNaN(slope([2, 2], [1, 3])));
});

test('the soak section replaces an earlier one, is appended when absent, and survives a rewrite of the other sections', () => {
  const report = '# Benchmark results\n\n## 1. Encoder\n\nfast\n\n## 6. GPU\n\nnone\n';
  const first = spliceSoakSection(report, '## Soak: 10 minutes\n\nslope 0.1\n');
  assert.equal(first, `${report.trimEnd()}\n\n## Soak: 10 minutes\n\nslope 0.1\n`);
  const middle = '# R\n\n## Soak: 3 minutes\n\nold\n\n## 6. GPU\n\nnone\n';
  assert.equal(spliceSoakSection(middle, '## Soak: 10 minutes\n\nnew\n'), '# R\n\n## Soak: 10 minutes\n\nnew\n\n## 6. GPU\n\nnone\n');
  const rewritten = '# Benchmark results\n\n## 1. Encoder\n\nfaster\n';
  assert.equal(keepSoakSection(first, rewritten), `${rewritten.trimEnd()}\n\n## Soak: 10 minutes\n\nslope 0.1\n`);
  assert.equal(keepSoakSection(report, rewritten), rewritten);
});
