#!/usr/bin/env node
// Runs the compiled CLI when present, else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// package.json engines: the OpenTelemetry packages need 22.15. Say so instead of failing later.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  process.stderr.write(
    `clipn: expected Node >= 22.15 (Node 24 LTS recommended), got v${process.versions.node}. ` +
      '`npm run setup` installs Node 24 into .tools/node; run clipn as `npx clipn`, or put .tools/node/bin first on PATH.\n',
  );
  process.exit(1);
}
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
