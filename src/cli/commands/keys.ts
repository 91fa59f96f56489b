/** `clipn keys generate`: an Ed25519 key pair for signed label sets and releases. */
import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ClipnError } from '../../errors.js';
import { generateKeyPair } from '../../trust/index.js';

export function register(program: Command): void {
  const keys = program.command('keys').description('keys that sign label sets and model releases');
  keys
    .command('generate')
    .option('--out <dir>', 'folder to write the pair to', '.')
    .option('--name <name>', 'file name stem: <name>.pem (private) and <name>.pub.pem (public)', 'clipn-signing')
    .description('write a new Ed25519 key pair: the private key (mode 0600) for trust.signingKey or --key, the public one for trust.publicKeys')
    .action(async (flags: { out: string; name: string }) => {
      if (!/^[A-Za-z0-9._-]+$/.test(flags.name)) throw new ClipnError('INPUT_INVALID', `--name: expected letters, digits, dots, dashes or underscores, got ${JSON.stringify(flags.name)}`);
      const dir = resolve(flags.out);
      await mkdir(dir, { recursive: true });
      const pair = generateKeyPair();
      const privateFile = join(dir, `${flags.name}.pem`);
      const publicFile = join(dir, `${flags.name}.pub.pem`);
      try {
        // "wx": never overwrite a key that may already be in use.
        await writeFile(privateFile, pair.privatePem, { mode: 0o600, flag: 'wx' });
        await writeFile(publicFile, pair.publicPem, { mode: 0o644, flag: 'wx' });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new ClipnError('INPUT_INVALID', `${code === 'EEXIST' ? 'a key file already exists' : 'cannot write the key pair'} in ${dir}: ${(error as Error).message}`, { cause: error });
      }
      process.stdout.write(
        `key ${pair.keyId}\n  private: ${privateFile} (keep secret: trust.signingKey or --key)\n  public:  ${publicFile}\n  public, base64 raw (trust.publicKeys): ${pair.publicRaw}\n`,
      );
    });
}
