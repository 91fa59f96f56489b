/** `clipn classify`: a class and the CTW/ATD flags for each image file. */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { expandPaths } from '../shared/paths.js';
import { loadClassifier, loadLabelSet, parsePositiveInt, withModelOptions } from '../shared/model.js';
import { scoreFiles, type FileResult } from '../shared/score-files.js';

/** Exit code when some files could not be classified (the others were). */
export const EXIT_SOME_FAILED = 2;

interface Flags {
  model?: string;
  labels: string;
  templates?: string;
  json?: boolean;
  batch?: string;
  providers?: string;
  threads?: string;
}

function jsonLine(r: FileResult): string {
  if ('error' in r) return JSON.stringify({ file: r.file, error: { code: r.error.code, message: r.error.message } });
  const s = r.score;
  return JSON.stringify({ file: r.file, label: s.label, index: s.index, scores: s.scores, ood: s.ood, top: s.top.slice(0, 3).map((t) => ({ label: t.label, p: t.p, pYes: t.pYes })) });
}

export function register(program: Command): void {
  withModelOptions(program.command('classify'), 16)
    .description('classify image files, folders or globs and flag out-of-distribution ones')
    .argument('<paths...>', 'image files, folders (recursive) or glob patterns')
    .option('--json', 'one JSON object per line per image')
    .addHelpText('after', `\nExit codes: 0 all classified, ${EXIT_SOME_FAILED} some files failed (each has an error line), 1 the command itself failed.`)
    .action(async (paths: string[], flags: Flags) => {
      const [classifier, labelSet, files] = await Promise.all([loadClassifier(flags), loadLabelSet(flags.labels, flags.templates), expandPaths(paths)]);
      const prepared = await classifier.prepare(labelSet);
      const bar = process.stderr.isTTY && files.length > 20 ? new cliProgress.SingleBar({ stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic) : null;
      bar?.start(files.length, 0);
      const table = flags.json ? null : new Table({ head: ['file', 'class', 'ctw', 'atd', 'msp', 'OOD (ctw/atd)'] });
      let failed = 0;
      for await (const r of scoreFiles(classifier, prepared, files, parsePositiveInt('--batch', flags.batch, 16))) {
        bar?.increment();
        if ('error' in r) failed++;
        if (flags.json) process.stdout.write(jsonLine(r) + '\n');
        else if ('error' in r) table!.push([r.file, { colSpan: 5, content: `error ${r.error.code}: ${r.error.message}` }]);
        else {
          const s = r.score;
          table!.push([r.file, s.label, s.scores.ctw.toFixed(3), s.scores.atd.toFixed(3), s.scores.msp.toFixed(3), `${s.ood.ctw ? 'OOD' : 'id'} / ${s.ood.atd ? 'OOD' : 'id'}`]);
        }
      }
      bar?.stop();
      if (table) process.stdout.write(table.toString() + `\n${files.length - failed} classified, ${failed} failed (model ${classifier.modelVersion})\n`);
      await classifier.close();
      if (failed > 0) process.exitCode = EXIT_SOME_FAILED;
    });
}
