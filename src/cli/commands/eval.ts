/** `clipn eval`: AUROC and FPR95 of CTW, ATD and the baselines, per OOD set, and ID accuracy. */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { basename } from 'node:path';
import { auroc, fprAtTpr, rankingValue, rocCurve, SCORE_NAMES as SCORES, type ImageScore, type ScoreName } from '../../clipn/index.js';
import { loadClassifier, loadLabelSet, parsePositiveInt, withModelOptions } from '../shared/model.js';
import { folderLabel, scoreFolder } from '../shared/collect-scores.js';
import { writeRocPng } from '../shared/roc-plot.js';


interface Flags {
  id: string;
  ood: string[];
  labels: string;
  model?: string;
  templates?: string;
  json?: boolean;
  roc?: string;
  batch?: string;
  providers?: string;
  threads?: string;
}

// Ranked by the log-odds where the probability saturates: ties would make AUROC depend on the CPU's last bits.
const pick = (scores: ImageScore[], name: ScoreName): number[] => scores.map((s) => rankingValue(s.scores, name));

export function register(program: Command): void {
  withModelOptions(program.command('eval'), 32)
    .description('OOD detection quality: AUROC and FPR95 per score and OOD set, and ID accuracy')
    .requiredOption('--id <dir>', 'in-distribution images (one subfolder per label gives ID accuracy)')
    .requiredOption('--ood <dir>', 'an out-of-distribution image folder (repeatable)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--json', 'print the result as one JSON object')
    .option('--roc <file.png>', 'write the ROC curves (CTW and ATD per OOD set) as a PNG')
    .action(async (flags: Flags) => {
      const [classifier, labelSet] = await Promise.all([loadClassifier(flags), loadLabelSet(flags.labels, flags.templates)]);
      const prepared = await classifier.prepare(labelSet);
      const batch = parsePositiveInt('--batch', flags.batch, 32);
      const id = await scoreFolder(classifier, prepared, flags.id, batch);
      const truth = id.files.map(folderLabel);
      const hasTruth = truth.length > 0 && truth.every((t) => labelSet.labels.includes(t));
      const result: Record<string, unknown> = { modelVersion: classifier.modelVersion, labels: labelSet.labels, idImages: id.scores.length };
      if (hasTruth) result.idAccuracy = id.scores.filter((s, i) => s.label === truth[i]).length / id.scores.length;
      result.idFlagged = { ctw: id.scores.filter((s) => s.ood.ctw).length / id.scores.length, atd: id.scores.filter((s) => s.ood.atd).length / id.scores.length };
      const perSet: Record<string, Record<string, unknown>> = {};
      const curves = [];
      let failures = id.failures.length;
      for (const dir of flags.ood) {
        const ood = await scoreFolder(classifier, prepared, dir, batch);
        failures += ood.failures.length;
        const row: Record<string, unknown> = { images: ood.scores.length };
        for (const name of SCORES) row[name] = { auroc: auroc(pick(id.scores, name), pick(ood.scores, name)), fpr95: fprAtTpr(pick(id.scores, name), pick(ood.scores, name)) };
        perSet[basename(dir.replace(/\/$/, ''))] = row;
        for (const name of ['ctw', 'atd'] as const) curves.push({ name: `${name.toUpperCase()} vs ${basename(dir)}`, ...rocCurve(pick(id.scores, name), pick(ood.scores, name)) });
      }
      result.ood = perSet;
      const sets = Object.values(perSet) as Array<Record<ScoreName, { auroc: number; fpr95: number }>>;
      result.mean = Object.fromEntries(SCORES.map((n) => [n, { auroc: avg(sets.map((s) => s[n].auroc)), fpr95: avg(sets.map((s) => s[n].fpr95)) }]));
      result.failures = failures;
      if (flags.roc) await writeRocPng(flags.roc, `ROC, ${classifier.modelVersion}`, curves);
      if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
      else {
        const table = new Table({ head: ['OOD set', ...SCORES.map((s) => `${s} AUROC / FPR95`)] });
        const rows = { ...perSet, mean: result.mean } as Record<string, Record<ScoreName, { auroc: number; fpr95: number }>>;
        for (const [name, r] of Object.entries(rows)) table.push([name, ...SCORES.map((s) => `${r[s].auroc.toFixed(4)} / ${r[s].fpr95.toFixed(4)}`)]);
        process.stdout.write(table.toString() + '\n');
        if (hasTruth) process.stdout.write(`ID accuracy: ${(result.idAccuracy as number).toFixed(4)} on ${id.scores.length} images\n`);
        if (failures > 0) process.stdout.write(`${failures} images could not be read (see clipn classify for each error)\n`);
      }
      await classifier.close();
    });
}

function avg(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}
