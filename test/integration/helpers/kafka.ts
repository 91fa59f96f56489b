/** Integration-test helpers against the real broker, in one import (see the modules re-exported). */
export { BROKERS, uniqueName, testKafka } from './kafka-env.js';
export { createTopics, type TestTopicSpec } from './create-topics.js';
export { produce, produceInTransaction, type TestRecord } from './produce.js';
export { collect, describeMessages, until, waitForMessages, type Collector, type CollectOptions, type ConsumedMessage, type IsolationLevel, type WaitForMessagesOptions } from './wait-for-messages.js';
