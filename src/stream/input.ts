/**
 * What a consumed message asks for. The value is either an Avro ImageRequest (recognised by
 * the codec's header) or raw image bytes, with id, content type, label set and caption in
 * headers (clipn-id, content-type, clipn-label-set, clipn-caption) or the key as the id.
 */
import type { IHeaders, KafkaMessage } from '../kafka/index.js';
import type { RecordCodec } from '../codec/index.js';
import { ClipnError } from '../errors.js';
import type { ImageSource } from '../images/index.js';

/** One image to tag. */
export interface ImageJob {
  id: string;
  key: string | null;
  source: { topic: string; partition: number; offset: string; timestamp: string };
  image: ImageSource;
  labelSetId: string | null;
  caption: string | null;
  metadata: Record<string, string>;
  headers: IHeaders;
  valueBytes: number;
}

export const HEADERS = { id: 'clipn-id', contentType: 'content-type', labelSet: 'clipn-label-set', caption: 'clipn-caption' } as const;

/** A header as a string (kafkajs gives Buffers, or arrays of them for repeated headers). */
export function headerString(headers: IHeaders | undefined, name: string): string | null {
  const v = headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined || first === null) return null;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

interface ImageRequestValue {
  id: string;
  image: { 'io.clipn.v1.InlineImage'?: { data: Buffer; contentType: string | null }; 'io.clipn.v1.ImageUri'?: { uri: string } };
  labelSetId: string | null;
  caption: string | null;
  metadata: Record<string, string>;
}

/**
 * The id of a message before its value is read: the clipn-id header, else the key. A dead
 * letter for a value that cannot be read still names it.
 */
export function messageId(message: Pick<KafkaMessage, 'headers' | 'key'>): string | null {
  return headerString(message.headers, HEADERS.id) ?? (message.key ? message.key.toString('utf8') : null);
}

/** Parses a consumed message into a job; bad input throws a coded ClipnError. */
export async function parseMessage(codec: RecordCodec, topic: string, partition: number, message: KafkaMessage): Promise<ImageJob> {
  const value = message.value;
  const key = message.key ? message.key.toString('utf8') : null;
  const source = { topic, partition, offset: message.offset, timestamp: message.timestamp };
  const base = { key, source, headers: message.headers ?? {}, valueBytes: value?.length ?? 0 };
  if (!value || value.length === 0) throw new ClipnError('INPUT_INVALID', `message ${topic}[${partition}]@${message.offset} has no value: expected image bytes or an ImageRequest`);
  if (codec.looksLikeRecord(value)) {
    const { value: decoded } = await codec.decode(value, 'ImageRequest');
    const req = decoded as ImageRequestValue;
    const inline = req.image['io.clipn.v1.InlineImage'];
    const uri = req.image['io.clipn.v1.ImageUri'];
    const image: ImageSource = inline ? { kind: 'inline', bytes: inline.data, ...(inline.contentType === null ? {} : { contentType: inline.contentType }) } : { kind: 'uri', uri: uri!.uri };
    return { ...base, id: req.id, image, labelSetId: req.labelSetId, caption: req.caption, metadata: req.metadata };
  }
  const headers = message.headers;
  const contentType = headerString(headers, HEADERS.contentType);
  return {
    ...base,
    id: messageId(message) ?? `${topic}-${partition}-${message.offset}`,
    image: { kind: 'inline', bytes: value, ...(contentType === null ? {} : { contentType }) },
    labelSetId: headerString(headers, HEADERS.labelSet),
    caption: headerString(headers, HEADERS.caption),
    metadata: {},
  };
}
