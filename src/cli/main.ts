/**
 * The `clipn` command line. Each command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them up, so commands stay independent.
 */
import { Command } from 'commander';
import { toClipnError } from '../errors.js';
import * as calibrate from './commands/calibrate.js';
import * as classify from './commands/classify.js';
import * as demo from './commands/demo.js';
import * as dlq from './commands/dlq.js';
import * as evaluate from './commands/eval.js';
import * as keys from './commands/keys.js';
import * as labels from './commands/labels.js';
import * as models from './commands/models.js';
import * as review from './commands/review.js';
import * as serve from './commands/serve.js';
import * as train from './commands/train.js';

const program = new Command('clipn')
  .description('CLIPN stream processor: classify images and flag the ones that belong to no class')
  .showHelpAfterError();

// Commands register themselves here, one import each.
const commands: Array<{ register(program: Command): void }> = [classify, evaluate, calibrate, serve, labels, review, dlq, train, models, keys, demo];
for (const command of commands) command.register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const e = toClipnError(error);
  process.stderr.write(`error ${e.code}: ${e.message}\n`);
  process.exitCode = 1;
}
