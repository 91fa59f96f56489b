/**
 * Runs the Python training kernel (`python -m clipn_kernel train-prompts`) on a samples file
 * and accepts its output only when result.json exists and every file it lists has the sha256
 * and size it claims. The kernel runs in its own process group, so stopping it (SIGTERM, then
 * SIGKILL after a grace period) also stops anything it started.
 */
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ClipnError } from '../errors.js';
import { sha256File } from '../model/index.js';
import type { KernelSettings } from './options.js';
import type { KernelEvent, KernelResult } from './types.js';

/** The kernel's mean "no" prompt [77,W]: the bundle's prompt file, what a release serves. */
export const PROMPT_FILE = 'prompt.bin';
/** All its learnable "no" prompts [N,77,W]: the training state a later run continues from (--init-prompt-set). */
export const PROMPT_SET_FILE = 'prompt-set.bin';

/** What one kernel run needs: the kernel settings, and the files of this run. */
export interface KernelRunOptions extends KernelSettings {
  readonly pythonBin: string;
  readonly bundleDir: string;
  readonly samplesFile: string;
  /** Output folder; must not hold a result.json. */
  readonly outDir: string;
  /** prompt-set.bin of the serving release, to continue from; null starts from the checkpoint's. */
  readonly initPromptSet: string | null;
  /** no_tower.pt of the serving no-tower release, to continue from; null: the checkpoint's tower. */
  readonly initNoTower?: string | null;
  /** The label set the gate scores with, as the kernel's --label-set file; null: none (no served-score terms). */
  readonly labelSetFile?: string | null;
  /** Aborting stops the kernel (shutdown). */
  readonly signal?: AbortSignal;
  /** Where the child's pid is written (so a later start can stop a kernel this process left behind). */
  readonly pidFile?: string;
  /** Called once the kernel process runs, with its pid. */
  readonly onSpawn?: (pid: number) => void;
  /** Each --log-json progress event. */
  readonly onEvent?: (event: KernelEvent) => void;
  /** Each stderr line that is not an event. */
  readonly onLine?: (line: string) => void;
  /** Milliseconds between SIGTERM and SIGKILL; default 5000. */
  readonly killGraceMs?: number;
}

/** A verified kernel output. */
export interface KernelOutput {
  readonly result: KernelResult;
  /** Absolute path of each file result.json lists. */
  readonly files: Readonly<Record<string, string>>;
  /** The kernel's arguments as strings (for the release's lineage). */
  readonly args: Readonly<Record<string, string>>;
}

/**
 * Environment variables the kernel gets, by name or prefix: what Python, PyTorch and CUDA read.
 * Nothing else crosses over, so the service's secrets (CLIPN_KAFKA__SASL__PASSWORD, a signing
 * key, cloud credentials) never reach the kernel or what it imports.
 */
const KERNEL_ENV_NAMES = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TMP', 'TEMP', 'VIRTUAL_ENV', 'LD_LIBRARY_PATH', 'CUDA_VISIBLE_DEVICES', 'CUDA_HOME', 'CUDA_PATH', 'XDG_CACHE_HOME', 'TORCH_HOME']);
const KERNEL_ENV_PREFIXES = ['LC_', 'PYTHON', 'OMP_', 'MKL_', 'OPENBLAS_', 'NUMEXPR_', 'KMP_', 'NVIDIA_', 'CUBLAS_', 'CUDNN_', 'PYTORCH_', 'TORCH_'];

/** The allow-listed part of `env` for the kernel, with PYTHONUNBUFFERED set. */
export function kernelEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name.startsWith('CLIPN_')) continue;
    if (KERNEL_ENV_NAMES.has(name) || KERNEL_ENV_PREFIXES.some((p) => name.startsWith(p))) out[name] = value;
  }
  return { ...out, PYTHONUNBUFFERED: '1' };
}

/** The kernel's command line (after the interpreter). */
export function kernelArgs(o: KernelRunOptions): string[] {
  const args = ['-m', 'clipn_kernel', 'train-prompts', '--bundle', resolve(o.bundleDir), '--samples', resolve(o.samplesFile), '--out', resolve(o.outDir)];
  args.push('--mode', o.mode, '--epochs', String(o.epochs), '--lr', String(o.lr), '--batch', String(o.batch), '--seed', String(o.seed), '--device', o.device, '--log-json');
  if (o.weightDecay !== null) args.push('--weight-decay', String(o.weightDecay));
  if (o.balance) args.push('--balance');
  if (o.initPromptSet !== null) args.push('--init-prompt-set', resolve(o.initPromptSet));
  if (o.initNoTower) args.push('--init-no-tower', resolve(o.initNoTower));
  // Without a label set the served score cannot be trained: only CLIPN's losses (and L2) remain.
  const served = o.labelSetFile ? { served: o.servedWeight, distill: o.distill } : { served: 0, distill: 0 };
  if (o.labelSetFile) args.push('--label-set', resolve(o.labelSetFile));
  args.push('--clipn-weight', String(o.clipnWeight), '--served-weight', String(served.served), '--distill', String(served.distill), '--l2', String(o.l2));
  if (o.loraRank > 0) args.push('--lora-rank', String(o.loraRank));
  return args;
}

/** The training arguments worth recording in a release's lineage. */
function lineageArgs(o: KernelRunOptions): Record<string, string> {
  return {
    mode: o.mode,
    epochs: String(o.epochs),
    lr: String(o.lr),
    batch: String(o.batch),
    seed: String(o.seed),
    device: o.device,
    balance: String(o.balance),
    ...(o.weightDecay === null ? {} : { weightDecay: String(o.weightDecay) }),
    clipnWeight: String(o.clipnWeight),
    servedWeight: String(o.labelSetFile ? o.servedWeight : 0),
    distill: String(o.labelSetFile ? o.distill : 0),
    l2: String(o.l2),
    loraRank: String(o.loraRank),
    init: o.initNoTower ? 'serving release (no tower)' : o.initPromptSet !== null ? 'serving release (prompts)' : 'checkpoint',
  };
}

/**
 * Runs the kernel to completion and verifies its output.
 * @throws ClipnError TRAINER_SAMPLES_INVALID (exit 2), TRAINER_KERNEL_FAILED (another exit, a
 * signal, an abort), TRAINER_KERNEL_TIMEOUT, TRAINER_OUTPUT_INVALID (no or bad result.json).
 */
export async function runKernel(o: KernelRunOptions): Promise<KernelOutput> {
  const args = kernelArgs(o);
  const child = spawn(o.pythonBin, args, { cwd: resolve(o.outDir, '..'), stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: kernelEnv(process.env) });
  const tail: string[] = [];
  let errorLine: string | null = null;
  const spawned = new Promise<void>((res, rej) => {
    child.once('spawn', () => res());
    child.once('error', (e) => rej(new ClipnError('TRAINER_KERNEL_FAILED', `kernel ${o.pythonBin}: could not start: ${e.message}`, { cause: e, retriable: false })));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('close', (code, signal) => res({ code, signal })));
  await spawned;
  if (o.pidFile) await writeFile(o.pidFile, String(child.pid));
  o.onSpawn?.(child.pid!);
  createInterface({ input: child.stderr! }).on('line', (line) => {
    const event = parseEvent(line);
    if (event) return o.onEvent?.(event);
    if (line.startsWith('error:')) errorLine = line.slice(6).trim();
    tail.push(line);
    if (tail.length > 20) tail.shift();
    o.onLine?.(line);
  });

  let stopReason: 'timeout' | 'aborted' | null = null;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (reason: 'timeout' | 'aborted'): void => {
    if (stopReason !== null) return;
    stopReason = reason;
    signalGroup(child.pid!, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), o.killGraceMs ?? 5000);
  };
  const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
  const onAbort = (): void => stop('aborted');
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const { code, signal } = await exited.finally(() => {
    clearTimeout(timer);
    clearTimeout(killTimer);
    o.signal?.removeEventListener('abort', onAbort);
  });

  const details = { code, signal, tail: tail.slice(-5) };
  if (stopReason === 'timeout') throw new ClipnError('TRAINER_KERNEL_TIMEOUT', `kernel run took longer than ${o.timeoutMs} ms and was stopped`, { details });
  if (stopReason === 'aborted') throw new ClipnError('TRAINER_KERNEL_FAILED', 'kernel run stopped: the trainer is shutting down', { details, retriable: true });
  if (code === 2) throw new ClipnError('TRAINER_SAMPLES_INVALID', `kernel refused the samples: ${errorLine ?? tail.at(-1) ?? 'no message'}`, { details });
  if (code !== 0) throw new ClipnError('TRAINER_KERNEL_FAILED', `kernel exited with ${code ?? signal}: ${errorLine ?? tail.at(-1) ?? 'no message'}`, { details });
  const { result, files } = await verifyOutput(o.outDir, o.mode);
  return { result, files, args: lineageArgs(o) };
}

/** Reads result.json of a finished run and checks every file it lists. */
export async function verifyOutput(outDir: string, mode: 'prompts' | 'no-tower'): Promise<{ result: KernelResult; files: Record<string, string> }> {
  const path = join(outDir, 'result.json');
  let result: KernelResult;
  try {
    result = JSON.parse(await readFile(path, 'utf8')) as KernelResult;
  } catch (error) {
    throw new ClipnError('TRAINER_OUTPUT_INVALID', `${path}: expected the kernel's result.json, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (an incomplete run)`, { cause: error });
  }
  if (result === null || typeof result !== 'object' || typeof result.files !== 'object' || result.files === null) {
    throw new ClipnError('TRAINER_OUTPUT_INVALID', `${path}: expected an object with "files", got ${JSON.stringify(result)?.slice(0, 100)}`);
  }
  const required = [PROMPT_FILE, PROMPT_SET_FILE, ...(mode === 'no-tower' ? ['text_no.onnx', 'no_tower.pt'] : [])];
  for (const name of required) {
    if (!(name in result.files)) throw new ClipnError('TRAINER_OUTPUT_INVALID', `${path}: expected ${name} among its files, got ${Object.keys(result.files).join(', ') || 'none'}`);
  }
  const files: Record<string, string> = {};
  for (const [name, entry] of Object.entries(result.files)) {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) throw new ClipnError('TRAINER_OUTPUT_INVALID', `${path}: file name ${JSON.stringify(name)} is not a plain file name`);
    const file = join(outDir, name);
    const info = await stat(file).catch(() => null);
    if (info === null || !info.isFile()) throw new ClipnError('TRAINER_OUTPUT_INVALID', `${outDir}: ${name} is listed in result.json but missing`);
    if (info.size !== entry.bytes) throw new ClipnError('TRAINER_OUTPUT_INVALID', `${outDir}: ${name} has ${info.size} bytes, result.json says ${entry.bytes}`);
    const sha = await sha256File(file);
    if (sha !== entry.sha256) throw new ClipnError('TRAINER_OUTPUT_INVALID', `${outDir}: ${name} has sha256 ${sha}, result.json says ${entry.sha256}`);
    files[name] = file;
  }
  return { result, files };
}

/** Stops a process group left by an earlier trainer process (its pid file), if it still runs that kernel. */
export async function stopLeftoverKernel(pidFile: string, runDir: string): Promise<boolean> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  // Only a process whose command line names this run's folder: the pid may have been reused.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(resolve(runDir))) return false;
  signalGroup(pid, 'SIGKILL');
  return true;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function parseEvent(line: string): KernelEvent | null {
  if (!line.startsWith('{')) return null;
  try {
    const v = JSON.parse(line) as unknown;
    return v !== null && typeof v === 'object' && typeof (v as KernelEvent).event === 'string' ? (v as KernelEvent) : null;
  } catch {
    return null;
  }
}
