/**
 * A single broker of the test's own, on its own ports and data folder (scripts/kafka.sh with
 * CLIPN_KAFKA_* variables), for tests that stop and start a broker: the shared one on 9092
 * must keep serving the other tests.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { ROOT } from '../../helpers/clipn-cli.js';

const run = promisify(execFile);

export interface OwnBroker {
  readonly address: string;
  readonly kafka: Kafka;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and deletes its data. */
  remove(): Promise<void>;
}

/** A broker on 127.0.0.1:`port` (controller on port + 1), not started yet. */
export function ownBroker(port: number, options: { autoCreateTopics?: boolean } = {}): OwnBroker {
  const env = {
    ...process.env,
    CLIPN_KAFKA_AUTO_CREATE: String(options.autoCreateTopics ?? true),
    CLIPN_KAFKA_PORT: String(port),
    CLIPN_KAFKA_CONTROLLER_PORT: String(port + 1),
    CLIPN_KAFKA_DATA_DIR: mkdtempSync(join(tmpdir(), 'clipn-own-broker-')),
    CLIPN_KAFKA_HEAP: '512m',
  };
  const script = (verb: string) => run('bash', [join(ROOT, 'scripts', 'kafka.sh'), verb], { env, timeout: 120_000 }).then(() => undefined);
  const address = `127.0.0.1:${port}`;
  return {
    address,
    kafka: new Kafka({ clientId: 'own-broker-test', brokers: [address], logLevel: logLevel.NOTHING }),
    start: () => script('start'),
    stop: () => script('stop'),
    remove: () => script('reset'),
  };
}
