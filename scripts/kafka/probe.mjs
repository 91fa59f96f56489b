// Waits until a Kafka broker answers a metadata request (admin listTopics), for scripts/kafka.sh.
//   node scripts/kafka/probe.mjs <host:port> <timeoutMs> [pid]
// Exit 0: it answered. Exit 1: no answer before the deadline. Exit 3: process <pid> exited first.
import { Kafka, logLevel } from 'kafkajs';

const [broker, timeoutArg = '60000', pidArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);
if (!broker || !/^[^:]+:\d+$/.test(broker) || !Number.isInteger(timeoutMs) || timeoutMs <= 0) {
  process.stderr.write(`usage: probe.mjs <host:port> <timeoutMs> [pid] (got ${process.argv.slice(2).join(' ')})\n`);
  process.exit(2);
}
const pid = pidArg === undefined ? null : Number(pidArg);

function alive(p) {
  try {
    process.kill(p, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return error.code === 'EPERM';
  }
}

const kafka = new Kafka({
  clientId: 'clipn-broker-probe',
  brokers: [broker],
  connectionTimeout: 1000,
  requestTimeout: 3000,
  retry: { retries: 0 },
  logLevel: logLevel.NOTHING,
});

const deadline = Date.now() + timeoutMs;
let lastError = 'no attempt';
while (Date.now() < deadline) {
  if (pid !== null && !alive(pid)) {
    process.stderr.write(`broker process ${pid} exited before answering\n`);
    process.exit(3);
  }
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.listTopics();
    await admin.disconnect();
    process.exit(0);
  } catch (error) {
    lastError = `${error.name}: ${error.message}`;
    await admin.disconnect().catch(() => {});
  }
  // Poll interval between connection attempts, bounded by the deadline above.
  await new Promise((resolve) => setTimeout(resolve, 250));
}
process.stderr.write(`broker ${broker} did not answer within ${timeoutMs} ms (last error: ${lastError})\n`);
process.exit(1);
