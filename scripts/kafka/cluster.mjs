// Cluster-wide questions for scripts/kafka/cluster.sh, over the Kafka protocol (kafkajs admin).
//   node scripts/kafka/cluster.mjs ready <brokers> <count> <timeoutMs>
//     exit 0 once the cluster's metadata lists <count> brokers (each registered with the active
//     controller and unfenced), 1 when it does not before the deadline.
//   node scripts/kafka/cluster.mjs leader <brokers> <topic> <partition>
//     prints "<leader> replicas <ids> in-sync <ids>"; exit 1 when the topic or partition is unknown.
// <brokers> is a comma-separated list of host:port.
import { Kafka, logLevel } from 'kafkajs';

const [verb, brokersArg = '', ...rest] = process.argv.slice(2);
const brokers = brokersArg.split(',').filter((b) => /^[^:]+:\d+$/.test(b));
function usage() {
  process.stderr.write(`usage: cluster.mjs ready <brokers> <count> <timeoutMs> | leader <brokers> <topic> <partition> (got ${process.argv.slice(2).join(' ')})\n`);
  process.exit(2);
}
if (brokers.length === 0) usage();

const kafka = new Kafka({
  clientId: 'clipn-cluster-probe',
  brokers,
  connectionTimeout: 1000,
  requestTimeout: 5000,
  retry: { retries: 0 },
  logLevel: logLevel.NOTHING,
});

async function ready(count, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      await admin.disconnect();
      if (cluster.brokers.length >= count) return 0;
      last = `${cluster.brokers.length} broker(s) listed: ${cluster.brokers.map((b) => b.nodeId).join(', ')}`;
    } catch (error) {
      last = `${error.name}: ${error.message}`;
      await admin.disconnect().catch(() => {});
    }
    // Poll interval between attempts, bounded by the deadline above.
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  process.stderr.write(`expected ${count} brokers within ${timeoutMs} ms (last: ${last})\n`);
  return 1;
}

// Asks each broker in turn (a dead one is skipped) until one answers.
async function leader(topic, partition) {
  let last = 'no broker answered';
  for (const broker of brokers) {
    const admin = new Kafka({ clientId: 'clipn-cluster-probe', brokers: [broker], connectionTimeout: 1000, requestTimeout: 5000, retry: { retries: 0 }, logLevel: logLevel.NOTHING }).admin({ retry: { retries: 2 } });
    try {
      await admin.connect();
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const p = topics[0]?.partitions.find((x) => x.partitionId === partition);
      if (!p) {
        process.stderr.write(`topic ${topic} has no partition ${partition}\n`);
        return 1;
      }
      process.stdout.write(`${p.leader} replicas ${p.replicas.join(',')} in-sync ${p.isr.join(',')}\n`);
      return 0;
    } catch (error) {
      if (error.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
        process.stderr.write(`topic ${topic} does not exist (asked ${broker})\n`);
        return 1;
      }
      last = `${broker}: ${error.name}: ${error.message}`;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  process.stderr.write(`no metadata for ${topic} (last error: ${last})\n`);
  return 1;
}

if (verb === 'ready') {
  const [count, timeoutMs] = rest.map(Number);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(timeoutMs) || timeoutMs <= 0) usage();
  process.exit(await ready(count, timeoutMs));
} else if (verb === 'leader') {
  const [topic, partitionArg] = rest;
  const partition = Number(partitionArg);
  if (!topic || !Number.isInteger(partition) || partition < 0) usage();
  process.exit(await leader(topic, partition));
} else {
  usage();
}
