/**
 * Producers whose sends resolve only when every partition written to was acknowledged.
 *
 * kafkajs 2.2.4 (its last release) can report a send as done while records of one partition
 * were never written: a send is split into one request per leader broker, and a retry after a
 * failed request goes only to brokers that have not answered yet. When a partition's leader
 * dies mid-send and its new leader is a broker that already answered for other partitions of
 * the same send, that partition's records are dropped and the send resolves (seen on a 3-node
 * cluster with kill -9: 3 of 1000 records lost, test/integration/cluster-failover.test.ts).
 * Here the partitioner records where each message went, and a send whose answer lacks one of
 * those partitions fails with a retriable KAFKA_ERROR instead; sending again is then safe for
 * idempotent producers, and at worst duplicates otherwise.
 */
import { Kafka, Partitioners, type Message, type Producer, type ProducerBatch, type ProducerConfig, type ProducerRecord, type RecordMetadata, type Transaction } from 'kafkajs';
import { ClipnError } from '../errors.js';

type Assigned = WeakMap<Message, number>;
type TopicMessages = ReadonlyArray<{ topic: string; messages: readonly Message[] }>;

/**
 * Throws when `response` has no acknowledgement for a partition some message went to
 * (acks=0 sends get no acknowledgements and are not checked).
 */
export function checkAcknowledged(topicMessages: TopicMessages, assigned: Assigned, response: readonly RecordMetadata[], acks: number | undefined): void {
  if (acks === 0) return;
  const answered = new Set(response.map((r) => `${r.topicName}\u0000${r.partition}`));
  const missing = new Map<string, number>();
  for (const { topic, messages } of topicMessages) {
    for (const m of messages) {
      const partition = assigned.get(m);
      if (partition === undefined || answered.has(`${topic}\u0000${partition}`)) continue;
      const at = `${topic}[${partition}]`;
      missing.set(at, (missing.get(at) ?? 0) + 1);
    }
  }
  if (missing.size === 0) return;
  const list = [...missing].map(([at, n]) => `${at} (${n} record${n === 1 ? '' : 's'})`);
  throw new ClipnError('KAFKA_ERROR', `expected an acknowledgement for every partition written to, got none for ${list.join(', ')}: kafkajs did not resend them after a partition leader changed mid-send, so they may never have been written`, {
    retriable: true,
    details: { unacknowledged: Object.fromEntries(missing) },
  });
}

function confirmSend<T extends { send(r: ProducerRecord): Promise<RecordMetadata[]>; sendBatch(b: ProducerBatch): Promise<RecordMetadata[]> }>(target: T, assigned: Assigned): Pick<T, 'send' | 'sendBatch'> {
  return {
    async send(record) {
      const response = await target.send(record);
      checkAcknowledged([record], assigned, response, record.acks);
      return response;
    },
    async sendBatch(batch) {
      const response = await target.sendBatch(batch);
      checkAcknowledged(batch.topicMessages ?? [], assigned, response, batch.acks);
      return response;
    },
  };
}

/** A kafkajs client whose producers (and their transactions) check every send's acknowledgements. */
export class ConfirmingKafka extends Kafka {
  override producer(config: ProducerConfig = {}): Producer {
    const assigned: Assigned = new WeakMap();
    const create = config.createPartitioner ?? Partitioners.DefaultPartitioner;
    const producer = super.producer({
      ...config,
      createPartitioner: () => {
        const partition = create();
        return (args) => {
          const p = partition(args);
          assigned.set(args.message, p);
          return p;
        };
      },
    });
    return {
      ...producer,
      ...confirmSend(producer, assigned),
      async transaction(): Promise<Transaction> {
        const tx = await producer.transaction();
        return { ...tx, ...confirmSend(tx, assigned) };
      },
    };
  }
}
