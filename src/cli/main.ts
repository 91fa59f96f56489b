/**
 * The `clipn` command line. Each command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them up, so commands stay independent.
 */
import { Command } from 'commander';

const program = new Command('clipn')
  .description('CLIPN stream processor: classify images and flag the ones that belong to no class')
  .showHelpAfterError();

// Commands register themselves here, one import each.
const commands: Array<{ register(program: Command): void }> = [];
for (const command of commands) command.register(program);

await program.parseAsync(process.argv);
