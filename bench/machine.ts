/** The machine a run measured: CPU, cores, memory, OS, runtime versions, load at start. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';

export interface Machine {
  cpu: string;
  logicalCpus: number;
  cpuFlags: string;
  memoryGiB: number;
  os: string;
  node: string;
  onnxruntimeNode: string;
  onnxruntimePython: string;
  torch: string;
  loadAverage: [number, number, number];
  gpu: string;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 300_000 }).trim();
  } catch {
    return '';
  }
}

export function describeMachine(root: string, python: string): Machine {
  const cpuinfo = read('/proc/cpuinfo');
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  const wanted = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => flags.has(f));
  const osName = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(read('/etc/os-release'))?.[1] ?? type();
  const la = loadavg();
  const versions = run(python, ['-c', 'import torch, onnxruntime; print(torch.__version__, onnxruntime.__version__)']).split(' ');
  const ortPkg = JSON.parse(read(join(root, 'node_modules', 'onnxruntime-node', 'package.json')) || '{}') as { version?: string };
  const gpu = run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']);
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    logicalCpus: availableParallelism(),
    cpuFlags: wanted.join(' ') || 'none of avx2/avx512/vnni',
    memoryGiB: totalmem() / 2 ** 30,
    os: `${osName} (${type()} ${release()})`,
    node: process.version,
    onnxruntimeNode: ortPkg.version ?? 'unknown',
    onnxruntimePython: versions[1] ?? 'unknown',
    torch: versions[0] || 'unknown',
    loadAverage: [la[0]!, la[1]!, la[2]!],
    gpu: gpu || 'none (nvidia-smi not found or no device)',
  };
}
