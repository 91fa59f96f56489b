/** `clipn calibrate`: CTW and ATD thresholds that keep a share of ID images, written into a label set. */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { parseLabelSet, thresholdAtTpr } from '../../clipn/index.js';
import { ClipnError } from '../../errors.js';
import { loadClassifier, loadLabelSet, parsePositiveInt, withModelOptions } from '../shared/model.js';
import { scoreFolder } from '../shared/collect-scores.js';

interface Flags {
  id: string;
  labels: string;
  tpr: string;
  out?: string;
  model?: string;
  templates?: string;
  batch?: string;
  providers?: string;
  threads?: string;
}

export function register(program: Command): void {
  withModelOptions(program.command('calibrate'), 32)
    .description('thresholds on the CTW and ATD scores that keep a given share of ID images; writes a label set routed by them')
    .requiredOption('--id <dir>', 'in-distribution images of this label set')
    .option('--tpr <share>', 'share of ID images to keep (true positive rate)', '0.95')
    .option('--out <file.json>', 'label-set file to write (default: print it)')
    .action(async (flags: Flags) => {
      const tpr = Number(flags.tpr);
      if (!(tpr > 0 && tpr <= 1)) throw new ClipnError('CONFIG_INVALID', `--tpr: expected a share in (0, 1], got ${flags.tpr}`);
      const [classifier, labelSet] = await Promise.all([loadClassifier(flags), loadLabelSet(flags.labels, flags.templates)]);
      const prepared = await classifier.prepare(labelSet);
      const id = await scoreFolder(classifier, prepared, flags.id, parsePositiveInt('--batch', flags.batch, 32));
      if (id.scores.length === 0) throw new ClipnError('INPUT_INVALID', `${flags.id}: no readable ID images to calibrate on`);
      const thresholds = {
        ctw: thresholdAtTpr(id.scores.map((s) => s.scores.ctw), tpr),
        atd: thresholdAtTpr(id.scores.map((s) => s.scores.atd), tpr),
      };
      // Scores saturate at exactly 0 or 1 in float64: such a threshold cannot be stored (the schema
      // wants (0,1)) and would not separate anything, so say which share to ask for instead.
      for (const [name, t] of Object.entries(thresholds)) {
        if (!(t > 0 && t < 1)) {
          throw new ClipnError('INPUT_INVALID', `--tpr ${tpr}: the ${name} threshold that keeps this share is ${t}, expected a value inside (0, 1); the ${name} scores of the best ID images saturate, ask for a larger share`, {
            details: { score: name, threshold: t, tpr },
          });
        }
      }
      const calibrated = parseLabelSet({ ...labelSet, version: labelSet.version + 1, routing: { rule: 'calibrated' }, thresholds }, 'calibrated label set');
      const text = JSON.stringify({ ...calibrated, calibration: { tpr, idImages: id.scores.length, modelVersion: classifier.modelVersion, promptVersion: classifier.promptVersion } }, null, 2) + '\n';
      if (flags.out) await writeFile(flags.out, text);
      else process.stdout.write(text);
      process.stderr.write(`calibrated on ${id.scores.length} ID images: ctw >= ${thresholds.ctw.toFixed(4)}, atd >= ${thresholds.atd.toFixed(4)} keep ${(tpr * 100).toFixed(1)}%\n`);
      await classifier.close();
    });
}
