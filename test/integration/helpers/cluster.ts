/**
 * The local 3-node Kafka cluster of `scripts/kafka.sh cluster`, driven from a test: start and
 * stop it, find partition leaders, kill -9 a broker by node id and restart it on its data.
 * Every call is bounded by an explicit timeout; waits poll with until(), never fixed sleeps.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { createKafka } from '../../../src/kafka/index.js';
import { uniqueName } from './kafka-env.js';
import { until } from './wait-for-messages.js';
import { ROOT } from '../../helpers/clipn-cli.js';

// The same variable and default as scripts/kafka/cluster.sh: node N listens on PORT + N - 1.
const BASE_PORT = Number(process.env.CLIPN_KAFKA_CLUSTER_PORT ?? '19092');

/** The node ids of the cluster (each is broker and controller). */
export const CLUSTER_NODES: readonly number[] = [1, 2, 3];

/** host:port of node `node`'s listener. */
export function clusterAddress(node: number): string {
  if (!CLUSTER_NODES.includes(node)) throw new Error(`expected a node id in ${CLUSTER_NODES.join(', ')}, got ${node}`);
  return `127.0.0.1:${BASE_PORT + node - 1}`;
}

/** The listeners of all nodes, as bootstrap brokers. */
export const CLUSTER_BROKERS: readonly string[] = CLUSTER_NODES.map(clusterAddress);

/** What a run of the script printed, its exit code and how long it took. */
export interface ScriptRun {
  code: number | null;
  output: string;
  ms: number;
}

/**
 * Runs `scripts/kafka.sh cluster ARGS`; resolves when it exits with one of `okCodes`, rejects on
 * any other exit and after `timeoutMs` (the script and its children are then killed; nodes it
 * launched keep their pid files, so a later `stop` still finds them).
 */
export function clusterScript(args: readonly string[], timeoutMs: number, okCodes: readonly number[] = [0]): Promise<ScriptRun> {
  const started = performance.now();
  const child = spawn('bash', [join(ROOT, 'scripts', 'kafka.sh'), 'cluster', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const what = `scripts/kafka.sh cluster ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // its process group: the script and its probes
      } catch {
        // already gone
      }
      reject(new Error(`${what} did not finish within ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${what} could not run: ${error.message}`, { cause: error }));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const run = { code, output: output.trim(), ms: performance.now() - started };
      if (code !== null && okCodes.includes(code)) resolve(run);
      else reject(new Error(`${what} exited ${code} (expected ${okCodes.join(' or ')}) after ${Math.round(run.ms)} ms; output:\n${run.output}`));
    });
  });
}

/** How a test got its cluster: started it (and so stops it after) or found it running. */
export interface ClusterStart extends ScriptRun {
  started: boolean;
}

/**
 * Makes sure all nodes run and the cluster lists every broker: starts the ones that do not run.
 * `started` is false when everything was already up (the test then leaves it running).
 */
export async function startCluster(timeoutMs: number): Promise<ClusterStart> {
  const status = await clusterScript(['status'], Math.min(timeoutMs, 30_000), [0, 1, 3]);
  if (status.code === 0) return { ...status, started: false };
  const run = await clusterScript(['start'], timeoutMs);
  return { ...run, started: true };
}

/** Stops every node (SIGTERM, then SIGKILL after the script's stop timeout). */
export function stopCluster(timeoutMs: number): Promise<ScriptRun> {
  return clusterScript(['stop'], timeoutMs);
}

/** kill -9 of node `node`'s JVM; resolves once the process is gone. */
export function killBroker(node: number, timeoutMs: number): Promise<ScriptRun> {
  return clusterScript(['kill', String(clusterNode(node))], timeoutMs);
}

/** Starts node `node` again on its data (stopping it first if it runs); resolves once the cluster lists it. */
export function restartBroker(node: number, timeoutMs: number): Promise<ScriptRun> {
  return clusterScript(['restart', String(clusterNode(node))], timeoutMs);
}

function clusterNode(node: number): number {
  clusterAddress(node); // validates
  return node;
}

/** A client for the cluster, made by the product's factory, with retries that outlast a broker's fencing. */
export function clusterKafka(): Kafka {
  return createKafka({ brokers: CLUSTER_BROKERS, clientId: uniqueName('cluster-test'), connectionTimeoutMs: 3000, requestTimeoutMs: 30_000, retry: { retries: 10, initialRetryTimeMs: 200, maxRetryTimeMs: 3000 } });
}

/** Rejects after `ms` naming `what`, unless `promise` settles first. */
export async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** One partition's leader (-1: none) and in-sync replicas. */
export interface PartitionState {
  partition: number;
  leader: number;
  isr: number[];
  replicas: number[];
}

/** Every partition of `topic`, from a metadata request (bounded by `timeoutMs`). */
export async function partitionStates(admin: Admin, topic: string, timeoutMs = 10_000): Promise<PartitionState[]> {
  const { topics } = await within(`metadata of ${topic}`, admin.fetchTopicMetadata({ topics: [topic] }), timeoutMs);
  const partitions = topics[0]?.partitions ?? [];
  return partitions.map((p) => ({ partition: p.partitionId, leader: p.leader, isr: [...p.isr], replicas: [...p.replicas] })).sort((a, b) => a.partition - b.partition);
}

/** The node leading `topic`'s `partition` now. */
export async function leaderOf(admin: Admin, topic: string, partition: number, timeoutMs = 10_000): Promise<number> {
  const state = (await partitionStates(admin, topic, timeoutMs)).find((p) => p.partition === partition);
  if (!state) throw new Error(`expected ${topic} to have partition ${partition}, it has not`);
  return state.leader;
}

/**
 * Polls the metadata of `topics` until `holds` is true for every partition; a failed metadata
 * request counts as not yet (brokers may be failing over). Rejects after `timeoutMs` with the
 * last states seen.
 */
export async function awaitPartitions(admin: Admin, topics: readonly string[], what: string, holds: (p: PartitionState, topic: string) => boolean, timeoutMs: number): Promise<void> {
  let last = 'no metadata yet';
  try {
    await until(what, async () => {
      try {
        const states = await Promise.all(topics.map(async (t) => [t, await partitionStates(admin, t, 5000)] as const));
        last = states.map(([t, ps]) => `${t}: ${ps.map((p) => `${p.partition}→${p.leader} isr ${p.isr.join(',')}`).join('; ')}`).join(' | ');
        return states.every(([t, ps]) => ps.length > 0 && ps.every((p) => holds(p, t)));
      } catch (error) {
        last = `metadata failed: ${(error as Error).message}`;
        return false;
      }
    }, timeoutMs, 200);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${last}`, { cause: error });
  }
}
