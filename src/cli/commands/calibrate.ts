/** `clipn calibrate`: CTW and ATD log-odds thresholds that keep a share of ID images, written into a label set. */
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
    .description('thresholds on the CTW and ATD log-odds that keep a given share of ID images; writes a label set routed by them')
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
      // On the log-odds: the probabilities of the most confident ID images saturate at exactly 1.
      const thresholds = {
        ctwLogOdds: thresholdAtTpr(id.scores.map((s) => s.scores.ctwLogOdds), tpr),
        atdLogOdds: thresholdAtTpr(id.scores.map((s) => s.scores.atdLogOdds), tpr),
      };
      const calibrated = parseLabelSet({ ...labelSet, version: labelSet.version + 1, routing: { rule: 'calibrated' }, thresholds }, 'calibrated label set');
      const text = JSON.stringify({ ...calibrated, calibration: { tpr, idImages: id.scores.length, modelVersion: classifier.modelVersion, promptVersion: classifier.promptVersion } }, null, 2) + '\n';
      if (flags.out) await writeFile(flags.out, text);
      else process.stdout.write(text);
      const prob = (logOdds: number): string => (1 / (1 + Math.exp(-logOdds))).toPrecision(6);
      process.stderr.write(
        `calibrated on ${id.scores.length} ID images: ctw log-odds >= ${thresholds.ctwLogOdds.toFixed(3)} (score ${prob(thresholds.ctwLogOdds)}), ` +
          `atd log-odds >= ${thresholds.atdLogOdds.toFixed(3)} (score ${prob(thresholds.atdLogOdds)}) keep ${(tpr * 100).toFixed(1)}%\n`,
      );
      await classifier.close();
    });
}
