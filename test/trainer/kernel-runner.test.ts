import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelArgs, kernelEnv, runKernel, type KernelRunOptions } from '../../src/trainer/kernel-runner.js';
import { isClipnError } from '../../src/errors.js';

/** A stand-in for the Python interpreter: a shell script that behaves like the kernel CLI. */
function fakeKernel(body: string): { bin: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-kernel-'));
  const bin = join(dir, 'python');
  writeFileSync(
    bin,
    `#!/bin/sh
out=""; prev=""
for a in "$@"; do [ "$prev" = "--out" ] && out="$a"; prev="$a"; done
mkdir -p "$out"
files() {
  printf 'prompt' > "$out/prompt.bin"; printf 'prompt-set' > "$out/prompt-set.bin"
  p=$(sha256sum "$out/prompt.bin" | cut -d' ' -f1); q=$(sha256sum "$out/prompt-set.bin" | cut -d' ' -f1)
}
${body}
`,
  );
  chmodSync(bin, 0o755);
  return { bin, dir };
}

function options(bin: string, dir: string, extra: Partial<KernelRunOptions> = {}): KernelRunOptions {
  return { pythonBin: bin, bundleDir: dir, samplesFile: join(dir, 's.jsonl'), outDir: join(dir, 'out'), mode: 'prompts', epochs: 2, lr: 0.001, batch: 8, weightDecay: null, seed: 0, device: 'cpu', balance: false, initPromptSet: null, timeoutMs: 10_000, clipnWeight: 0, servedWeight: 1, distill: 1, l2: 0, loraRank: 0, ...extra };
}

const RESULT = `echo '{"event":"epoch","epoch":1,"epochs":2,"loss":0.5,"seconds":0.1}' >&2
files
printf '{"mode":"prompts","baseModelVersion":"m","samples":{"total":2,"withText":2,"id":1,"ood":1},"epochs":2,"lossCurve":[0.5],"args":{},"seed":0,"device":"cpu","seconds":0.1,"files":{"prompt.bin":{"sha256":"%s","bytes":6},"prompt-set.bin":{"sha256":"%s","bytes":10}}}' "$p" "$q" > "$out/result.json"`;

test('a finished run is accepted when every listed file matches; progress events are streamed', async () => {
  const { bin, dir } = fakeKernel(RESULT);
  const events: unknown[] = [];
  const out = await runKernel(options(bin, dir, { onEvent: (e) => events.push(e) }));
  assert.equal(out.result.mode, 'prompts');
  assert.deepEqual(Object.keys(out.files).sort(), ['prompt-set.bin', 'prompt.bin']);
  assert.deepEqual(events, [{ event: 'epoch', epoch: 1, epochs: 2, loss: 0.5, seconds: 0.1 }]);
  assert.equal(out.args.epochs, '2');
});

test('output with a wrong checksum or no result.json is refused', async () => {
  const bad = fakeKernel(RESULT.replace('"%s","bytes":6', '"%s0","bytes":6'));
  await assert.rejects(runKernel(options(bad.bin, bad.dir)), (e) => isClipnError(e, 'TRAINER_OUTPUT_INVALID') && /sha256/.test(e.message));
  const none = fakeKernel('files');
  await assert.rejects(runKernel(options(none.bin, none.dir)), (e) => isClipnError(e, 'TRAINER_OUTPUT_INVALID') && /incomplete run/.test(e.message));
});

test('exit 2 is bad samples with the kernel message; another exit is a kernel failure', async () => {
  const two = fakeKernel('echo "error: line 3: expected a JSON object" >&2; exit 2');
  await assert.rejects(runKernel(options(two.bin, two.dir)), (e) => isClipnError(e, 'TRAINER_SAMPLES_INVALID') && e.message.includes('line 3: expected a JSON object'));
  const crash = fakeKernel('echo "Traceback: boom" >&2; exit 1');
  await assert.rejects(runKernel(options(crash.bin, crash.dir)), (e) => isClipnError(e, 'TRAINER_KERNEL_FAILED') && e.message.includes('boom'));
});

test('a run past its timeout, or aborted, is killed (SIGTERM, then SIGKILL)', async () => {
  // Ignores SIGTERM, so only the SIGKILL after the grace period ends it.
  const stubborn = fakeKernel("trap '' TERM; sleep 30 & wait; sleep 30");
  const started = Date.now();
  await assert.rejects(runKernel(options(stubborn.bin, stubborn.dir, { timeoutMs: 300, killGraceMs: 300 })), (e) => isClipnError(e, 'TRAINER_KERNEL_TIMEOUT'));
  assert.ok(Date.now() - started < 5000);
  const slow = fakeKernel('sleep 30');
  const abort = new AbortController();
  const run = runKernel(options(slow.bin, slow.dir, { signal: abort.signal, pidFile: join(slow.dir, 'pid') }));
  setTimeout(() => abort.abort(), 200);
  await assert.rejects(run, (e) => isClipnError(e, 'TRAINER_KERNEL_FAILED') && /shutting down/.test(e.message));
  assert.ok(existsSync(join(slow.dir, 'pid')));
});

test('the command line names absolute paths and optional arguments only when set', () => {
  const args = kernelArgs(options('python', 'rel/bundle', { weightDecay: 0.1, initPromptSet: 'p.bin', mode: 'no-tower' }));
  assert.deepEqual(args.slice(0, 3), ['-m', 'clipn_kernel', 'train-prompts']);
  assert.ok(args[args.indexOf('--bundle') + 1]!.startsWith('/'));
  assert.equal(args[args.indexOf('--mode') + 1], 'no-tower');
  assert.equal(args[args.indexOf('--weight-decay') + 1], '0.1');
  assert.ok(args[args.indexOf('--init-prompt-set') + 1]!.endsWith('/p.bin'));
  assert.ok(args.includes('--log-json'));
  assert.ok(!kernelArgs(options('python', 'b')).includes('--init-prompt-set'));
  assert.ok(!kernelArgs(options('python', 'b')).includes('--balance'), 'the paper\'s plain loss unless asked');
  assert.ok(kernelArgs(options('python', 'b', { balance: true })).includes('--balance'));
});

test('the objective reaches the kernel; without a label set the served-score terms are off', () => {
  const flag = (args: string[], name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const withSet = kernelArgs(options('python', 'b', { labelSetFile: 'ls.json', initNoTower: 'nt.pt', loraRank: 4, l2: 0.5 }));
  assert.ok(flag(withSet, '--label-set')!.endsWith('/ls.json'));
  assert.ok(flag(withSet, '--init-no-tower')!.endsWith('/nt.pt'));
  assert.deepEqual(['--served-weight', '--distill', '--clipn-weight', '--l2', '--lora-rank'].map((n) => flag(withSet, n)), ['1', '1', '0', '0.5', '4']);
  const without = kernelArgs(options('python', 'b'));
  assert.deepEqual([flag(without, '--label-set'), flag(without, '--served-weight'), flag(without, '--distill'), flag(without, '--lora-rank')], [undefined, '0', '0', undefined]);
});

test('the kernel gets an allow-listed environment: never the SASL password or other CLIPN_ settings', async () => {
  const env = { PATH: '/usr/bin', HOME: '/h', LANG: 'C.UTF-8', PYTHONPATH: '/p', OMP_NUM_THREADS: '2', CUDA_VISIBLE_DEVICES: '0', CLIPN_KAFKA__SASL__PASSWORD: 'hunter2', CLIPN_TRUST__SIGNING_KEY: 'k', AWS_SECRET_ACCESS_KEY: 'a', UNDEFINED: undefined };
  assert.deepEqual(kernelEnv(env), { PATH: '/usr/bin', HOME: '/h', LANG: 'C.UTF-8', PYTHONPATH: '/p', OMP_NUM_THREADS: '2', CUDA_VISIBLE_DEVICES: '0', PYTHONUNBUFFERED: '1' });
  const { bin, dir } = fakeKernel(`env > "$out/../env.txt"\n${RESULT}`);
  process.env.CLIPN_KAFKA__SASL__PASSWORD = 'hunter2-in-env';
  try {
    await runKernel(options(bin, dir));
  } finally {
    delete process.env.CLIPN_KAFKA__SASL__PASSWORD;
  }
  const seen = readFileSync(join(dir, 'env.txt'), 'utf8');
  assert.ok(!seen.includes('hunter2-in-env') && !seen.includes('CLIPN_'), seen);
  assert.match(seen, /^PYTHONUNBUFFERED=1$/m);
});
