/** Kafka: the client factory and topic helpers (the only place kafkajs clients are created). */
export { createKafka, kafkaError, type KafkaOptions, type KafkaLogSink } from './client-factory.js';
export { ensureTopics, endOffsets, readToEnd, type TopicSpec } from './topics.js';
