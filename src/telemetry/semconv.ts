/**
 * Messaging attribute names from OpenTelemetry semantic conventions 1.45. They are still
 * incubating there, so they are copied here (as the conventions package advises) rather than
 * imported from its unstable entry point; test/telemetry/semconv.test.ts checks them against it.
 * The older names (messaging.system, messaging.kafka.message.key, messaging.kafka.offset,
 * messaging.kafka.consumer.group) are deprecated in 1.45 in favour of these.
 */

export const ATTR_MESSAGING_SYSTEM_NAME = 'messaging.system.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_DESTINATION_PARTITION_ID = 'messaging.destination.partition.id';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_KAFKA_MESSAGE_KEY = 'kafka.message.key';
export const ATTR_KAFKA_OFFSET = 'kafka.offset';
/** Stable. */
export const ATTR_ERROR_TYPE = 'error.type';

export const MESSAGING_SYSTEM_VALUE_KAFKA = 'kafka';
export const MESSAGING_OPERATION_TYPE_VALUE_PROCESS = 'process';
