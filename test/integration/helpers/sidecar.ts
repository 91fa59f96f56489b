/** Runs the sidecar for a test: in-process (Sidecar) or as a real `clipn serve` child process. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../../src/config/index.js';
import { Sidecar } from '../../../src/service/sidecar.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import type { Kafka } from 'kafkajs';
import { labelSetRecord, parseLabelSet } from '../../../src/clipn/index.js';
import { createCodec } from '../../../src/codec/index.js';
import assert from 'node:assert/strict';
import { BROKERS, produce, uniqueName, until } from './kafka.js';
import { httpStatus, loggedPort } from './process-probe.js';
import { spawnClipn, type ClipnProcess } from './clipn-process.js';
import { ROOT } from '../../helpers/clipn-cli.js';

export interface TestTopics {
  input: string;
  results: string;
  review: string;
  deadLetter: string;
  labelSets: string;
  modelReleases: string;
}

export function testTopics(): TestTopics {
  const p = uniqueName('t');
  return { input: `${p}.images`, results: `${p}.results`, review: `${p}.review`, deadLetter: `${p}.dlq`, labelSets: `${p}.labels`, modelReleases: `${p}.releases` };
}

/** The topics a sidecar reads and writes, as createTopics takes them (side channels compacted). */
export function sidecarTopicSpecs(topics: TestTopics, inputPartitions: number): Array<{ topic: string; partitions?: number; compact?: boolean }> {
  return [
    { topic: topics.input, partitions: inputPartitions },
    { topic: topics.results },
    { topic: topics.review },
    { topic: topics.deadLetter },
    { topic: topics.labelSets, partitions: 1, compact: true },
    { topic: topics.modelReleases, partitions: 1, compact: true },
  ];
}

/** The CLIPN_* environment for a sidecar on these topics. */
export function sidecarEnv(topics: TestTopics, group: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CLIPN_KAFKA__BROKERS: BROKERS.join(','),
    CLIPN_KAFKA__GROUP_ID: group,
    CLIPN_KAFKA__TOPICS__INPUT: topics.input,
    CLIPN_KAFKA__TOPICS__RESULTS: topics.results,
    CLIPN_KAFKA__TOPICS__REVIEW: topics.review,
    CLIPN_KAFKA__TOPICS__DEAD_LETTER: topics.deadLetter,
    CLIPN_KAFKA__TOPICS__LABEL_SETS: topics.labelSets,
    CLIPN_KAFKA__TOPICS__MODEL_RELEASES: topics.modelReleases,
    CLIPN_TELEMETRY__HTTP__PORT: '0',
    CLIPN_TELEMETRY__LOG_LEVEL: 'warn',
    CLIPN_PROCESSING__MAX_WAIT_MS: '10',
    ...extra,
  };
}

export function testConfig(env: Record<string, string>): Config {
  return loadConfig({ env });
}

/** An in-process sidecar with its log lines kept for assertions. */
export function inProcessSidecar(env: Record<string, string>): { sidecar: Sidecar; logs: string[] } {
  const logs: string[] = [];
  const config = testConfig(env);
  const destination = new Writable({ write: (chunk, _e, cb) => (logs.push(String(chunk)), cb()) });
  const logger = createLogger({ level: 'info', serviceName: 'test', destination: { write: (l: string) => destination.write(l) } });
  return { sidecar: new Sidecar({ config, logger, root: ROOT }), logs };
}

/** Demo-world images (committed held-out sets): [file, bytes, isOod]. */
export function demoImages(): Array<{ file: string; bytes: Buffer; ood: boolean }> {
  const out: Array<{ file: string; bytes: Buffer; ood: boolean }> = [];
  for (const split of ['id', 'ood'] as const) {
    const base = join(ROOT, 'models', 'demo-heldout', split);
    for (const cls of readdirSync(base).sort()) {
      for (const f of readdirSync(join(base, cls)).sort()) out.push({ file: `${split}/${cls}/${f}`, bytes: readFileSync(join(base, cls, f)), ood: split === 'ood' });
    }
  }
  return out;
}

/** A label set as the label-set topic carries it, keyed by its id. */
export interface TestLabelSet {
  id: string;
  labels: string[];
  version?: number;
  rule?: string;
  params?: Record<string, string>;
  thresholds?: { ctwLogOdds: number | null; atdLogOdds: number | null } | null;
  templates?: string[] | null;
}

/** Produces a label set record to `topic` (key = its id). */
export async function putLabelSet(kafka: Kafka, topic: string, ls: TestLabelSet): Promise<void> {
  const value = await createCodec({ registryUrl: null }).encode(
    'LabelSet',
    labelSetRecord(parseLabelSet({ id: ls.id, version: ls.version ?? 1, labels: ls.labels, templates: ls.templates ?? null, routing: { rule: ls.rule ?? 'atd', params: ls.params ?? {} }, thresholds: ls.thresholds ?? null })),
  );
  await produce(kafka, topic, [{ key: ls.id, value }]);
}

/** A running `clipn serve` child and its health port. */
export type ServeProcess = ClipnProcess & { port: number };

/** Spawns `clipn serve` and resolves once its /readyz answers 200 (info logs: the line naming the port). */
export async function startServe(env: Record<string, string>, timeoutMs = 90_000): Promise<ServeProcess> {
  // At least info: readiness is read from the log (debug stays debug).
  const serve = spawnClipn(['serve'], { ...env, CLIPN_TELEMETRY__LOG_LEVEL: env.CLIPN_TELEMETRY__LOG_LEVEL === 'debug' ? 'debug' : 'info' });
  let port: number | null = null;
  try {
    await until('the sidecar ready', async () => {
      if (serve.child.exitCode !== null) throw new Error(`serve exited with ${serve.child.exitCode}:\n${serve.output().slice(-3000)}`);
      port ??= loggedPort(serve.output());
      return port !== null && (await httpStatus(port, '/readyz', 1000)) === 200;
    }, timeoutMs, 200);
  } catch (error) {
    serve.child.kill('SIGKILL');
    throw error;
  }
  return { ...serve, port: port! };
}

/** SIGTERM, and asserts a clean exit (0) within the process's own shutdown deadline. */
export async function stopServe(serve: ClipnProcess): Promise<void> {
  if (serve.child.exitCode === null) serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0, `serve exits 0 on SIGTERM; output:\n${serve.output().slice(-3000)}`);
}
