/** A connected admin client for the length of one piece of work. */
import type { Admin, Kafka } from 'kafkajs';

/** Runs `work` with a connected admin client of `kafka` and disconnects it afterwards, also when `work` fails. */
export async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}
