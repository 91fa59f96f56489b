/** Kafka: options, the client factory, error mapping and topic helpers (the only place kafkajs clients are created). */
export {
  resolveKafkaOptions,
  kafkaConnectionShape,
  KAFKA_LOG_LEVELS,
  SASL_MECHANISMS,
  type KafkaOptions,
  type KafkaOptionsInput,
  type KafkaRetry,
  type KafkaSasl,
  type KafkaLogLevelName,
  type SaslMechanism,
} from './options.js';
export { createKafka, kafkaLogSink, toLogLine, type FieldLogger, type KafkaLogSink, type KafkaSinkLevel } from './client-factory.js';
export { kafkaError, isRetriable } from './errors.js';
export { ensureTopics, ensureServiceTopics, maxMessageBytes, streamTopic, sideChannelTopic, DEFAULT_MAX_MESSAGE_BYTES, type EnsureTopicsOptions, type NewTopicPolicy, type ServiceTopics, type TopicSpec } from './topics.js';
export { readToEnd, latestByKey, type PartitionMessage, type ReadToEndOptions } from './read-to-end.js';
export { CatchUpTracker, describeBehind, type PartitionBehind, type PartitionEnd, type WhenCaughtUpOptions } from './catch-up.js';
export { withAdmin } from './admin-session.js';
/** The kafkajs types the rest of the product handles; kafkajs itself is used only here. */
export type { Admin, Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
