import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logLevel, type LogEntry } from 'kafkajs';
import { isClipnError } from '../../src/errors.js';
import { createKafka, kafkaLogSink, toLogLine, type KafkaSinkLevel } from '../../src/kafka/client-factory.js';

const SECRET = 's3cr3t-Pa55';

function entry(level: logLevel, message: string, extra: Record<string, unknown> = {}): LogEntry {
  return { namespace: 'Connection', level, label: 'X', log: { timestamp: 't', message, ...extra } };
}

test('toLogLine maps kafkajs levels and prefixes the namespace', () => {
  const cases: Array<[logLevel, KafkaSinkLevel]> = [
    [logLevel.ERROR, 'error'],
    [logLevel.WARN, 'warn'],
    [logLevel.INFO, 'info'],
    [logLevel.DEBUG, 'debug'],
  ];
  for (const [level, want] of cases) {
    const line = toLogLine(entry(level, 'hello', { broker: 'b:1' }), []);
    assert.equal(line.level, want);
    assert.equal(line.message, 'kafka Connection: hello');
    assert.deepEqual(line.extra, { timestamp: 't', broker: 'b:1' });
  }
});

test('toLogLine removes the password wherever it appears and credential-like fields', () => {
  const line = toLogLine(
    entry(logLevel.ERROR, `SASL PLAIN authentication failed for user u with ${SECRET}`, {
      sasl: { mechanism: 'plain', username: 'u', password: SECRET },
      password: SECRET,
      nested: { list: [`a ${SECRET} b`, 3], deeper: { note: SECRET } },
      error: new Error(`bad ${SECRET}`),
    }),
    [SECRET, ''],
  );
  const text = JSON.stringify(line);
  assert.ok(!text.includes(SECRET), text);
  assert.equal(line.message, 'kafka Connection: SASL PLAIN authentication failed for user u with [redacted]');
  assert.equal(line.extra.sasl, '[redacted]');
  assert.equal(line.extra.password, '[redacted]');
  assert.deepEqual(line.extra.nested, { list: ['a [redacted] b', 3], deeper: { note: '[redacted]' } });
  assert.deepEqual(line.extra.error, { name: 'Error', message: 'bad [redacted]' });
});

test('createKafka validates its options first', () => {
  assert.throws(() => createKafka({ brokers: ['nope'] }), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && /kafka\.brokers\[0\]/.test(e.message));
  assert.throws(() => createKafka({ brokers: ['h:1'], requestTimeoutMs: -5 }), (e: unknown) => isClipnError(e, 'CONFIG_INVALID'));
});

test('createKafka forwards kafkajs log lines at or above the level to the sink, without the password', () => {
  const lines: Array<{ level: string; message: string; extra: Record<string, unknown> }> = [];
  const kafka = createKafka(
    { brokers: ['127.0.0.1:1'], sasl: { mechanism: 'scram-sha-256', username: 'u', password: SECRET }, logLevel: 'warn' },
    (level, message, extra) => lines.push({ level, message, extra }),
  );
  const logger = kafka.logger();
  logger.info('not forwarded at warn', {});
  logger.namespace('Producer').warn(`retrying with ${SECRET}`, { password: SECRET });
  logger.error('gave up', { broker: '127.0.0.1:1' });
  assert.deepEqual(lines.map((l) => [l.level, l.message]), [
    ['warn', 'kafka Producer: retrying with [redacted]'],
    ['error', 'kafka: gave up'],
  ]);
  assert.equal(lines[0]!.extra.password, '[redacted]');
  assert.equal(lines[1]!.extra.broker, '127.0.0.1:1');
});

test('without a sink nothing is logged, and logLevel nothing silences a sink', () => {
  const quiet = createKafka({ brokers: ['127.0.0.1:1'] });
  quiet.logger().error('goes nowhere', {});
  const lines: string[] = [];
  const silenced = createKafka({ brokers: ['127.0.0.1:1'], logLevel: 'nothing' }, (_l, m) => lines.push(m));
  silenced.logger().error('also nowhere', {});
  assert.deepEqual(lines, []);
  const debug: string[] = [];
  createKafka({ brokers: ['127.0.0.1:1'], logLevel: 'debug' }, (_l, m) => debug.push(m)).logger().debug('seen', {});
  assert.deepEqual(debug, ['kafka: seen']);
});

test('expected retries while a broker starts and notices printed at every start go to debug, real errors stay', async () => {
  const { toLogLine } = await import('../../src/kafka/client-factory.js');
  const line = (level: number, message: string, extra: Record<string, unknown> = {}) => toLogLine({ namespace: 'Connection', level, label: 'ERROR', log: { timestamp: 't', logger: 'kafkajs', message, ...extra } } as never, []);
  assert.equal(line(1, 'Response GroupCoordinator(key: 10, version: 2)', { error: 'The group coordinator is not available' }).level, 'debug');
  assert.equal(line(2, 'KafkaJS v2.0.0 switched default partitioner. To retain the same partitioning behavior ...').level, 'debug');
  assert.equal(line(2, 'Limiting retries for the idempotent producer may invalidate EoS guarantees').level, 'debug');
  assert.equal(line(1, 'Response Metadata(key: 3, version: 6)', { error: 'This server does not host this topic-partition' }).level, 'error');
  assert.equal(line(1, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092').level, 'error');
});

test('kafkaLogSink writes each line to the logger at its level, the fields under kafka', () => {
  const written: Array<[string, Record<string, unknown>, string]> = [];
  const at = (level: KafkaSinkLevel) => (fields: Record<string, unknown>, message: string) => void written.push([level, fields, message]);
  const logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
  const kafka = createKafka({ brokers: ['127.0.0.1:1'], logLevel: 'debug' }, kafkaLogSink(logger));
  kafka.logger().warn('slow broker', { broker: 'b1' });
  kafka.logger().debug('fetching', {});
  assert.deepEqual(written.map(([level, fields, message]) => [level, message, (fields.kafka as Record<string, unknown>).broker]), [
    ['warn', 'kafka: slow broker', 'b1'],
    ['debug', 'kafka: fetching', undefined],
  ]);
  assert.deepEqual(Object.keys(written[0]![1]), ['kafka'], 'the kafkajs fields are kept apart from the product fields');
});
