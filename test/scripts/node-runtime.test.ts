import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/clipn-cli.js';

const run = promisify(execFile);

/** [major, minor] of the `>=X.Y.Z` engines range. */
function minimum(): [number, number] {
  const range = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const m = /^>=(\d+)\.(\d+)\.\d+$/.exec(range);
  assert.ok(m, `expected engines.node like >=X.Y.Z, got ${range}`);
  return [Number(m[1]), Number(m[2])];
}

function satisfies(version: string, [major, minor]: [number, number]): boolean {
  const [a, b] = version.replace(/^v/, '').split('.').map(Number) as [number, number];
  return a > major || (a === major && b >= minor);
}

test('the suite runs on a Node that package.json engines accepts', () => {
  assert.ok(satisfies(process.version, minimum()), `expected Node >= ${minimum().join('.')}, running on ${process.version}`);
});

test('scripts/node.sh names the node the scripts use, and it satisfies engines', async () => {
  const { stdout } = await run('bash', [join(ROOT, 'scripts', 'node.sh'), 'which'], { cwd: ROOT });
  const { stdout: version } = await run(stdout.trim(), ['--version']);
  assert.ok(satisfies(version.trim(), minimum()), `expected ${stdout.trim()} to be Node >= ${minimum().join('.')}, got ${version.trim()}`);
});

test('bin/clipn.js refuses a Node older than engines with a message that says what to do', async () => {
  // The running Node, made to report an older version before bin/clipn.js reads it.
  const older = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.1.0"})';
  const result = await run(process.execPath, ['--import', older, join(ROOT, 'bin', 'clipn.js'), '--help']).then(() => null, (e: { code: number; stderr: string }) => e);
  assert.ok(result, 'expected clipn to exit non-zero on an old Node');
  assert.equal(result.code, 1);
  assert.ok(result.stderr.includes(`expected Node >= ${minimum().join('.')}`), result.stderr);
  assert.match(result.stderr, /got v20\.1\.0/);
  assert.match(result.stderr, /npm run setup/);
});
