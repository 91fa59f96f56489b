import type { RecordValues } from '../../src/codec/index.js';

/** Valid example values of every record, for codec round trips. */
export function exampleRecords(): RecordValues {
  const scores = { ctw: 0.7, atd: 0.8, msp: 0.9, maxLogit: 21.5, energy: 22.1, ctwLogOdds: Math.log(0.7 / 0.3), atdLogOdds: Math.log(0.8 / 0.2) };
  const ood = { ctw: false, atd: true };
  const top = [{ label: 'star', index: 3, p: 0.9, pYes: 0.7 }];
  const source = { topic: 'images', partition: 1, offset: 42 };
  return {
    ImageRequest: { id: 'img-1', image: { 'io.clipn.v1.InlineImage': { data: Buffer.from([1, 2, 3]), contentType: 'image/png' } }, labelSetId: null, caption: null, metadata: { k: 'v' }, producedAt: null },
    TaggedImage: {
      id: 'img-1', key: 'k', source, label: 'star', index: 3, scores, ood, routed: true, reasons: ['atd'], top,
      labelSet: { id: 'default', version: 2 }, model: { version: 'demo@abc', promptVersion: 'demo@abc/p0' },
      timings: { resolveMs: 0.1, decodeMs: 2, inferMs: 10, scoreMs: 0.2, totalMs: 13 }, caption: null, metadata: {}, processedAt: 1700000000000,
    },
    ReviewItem: {
      id: 'img-1', source, label: 'star', index: 3, scores, ood, rule: 'atd', reasons: ['atd'], top, imageEmbedding: [0.25, -0.5],
      image: { uri: 'https://images.example/1.png' }, contentType: null, caption: 'a star', labelSet: { id: 'default', version: 2, labels: ['star'] },
      model: { version: 'demo@abc', promptVersion: 'p0' }, metadata: {}, createdAt: 1700000000000,
    },
    DeadLetter: {
      id: null, errorCode: 'IMAGE_TRUNCATED', errorMessage: 'cut', retriable: false,
      source: { topic: 'images', partition: 0, offset: 7, key: Buffer.from('k'), timestamp: 1700000000000 },
      headers: { h: Buffer.from('x') }, originalValue: Buffer.from([255, 216]), originalValueBytes: 2, truncated: false, failedAt: 1700000000000,
    },
    LabelSet: {
      id: 'default', version: 1, labels: ['a', 'b'], templates: ['a photo of a {}.'], routing: { rule: 'calibrated', params: {} }, thresholds: { ctwLogOdds: null, atdLogOdds: 2.5 },
      description: null, updatedAt: 1700000000000, deleted: false, signature: null,
    },
    ModelRelease: {
      model: 'demo', version: 'demo@abc/p1', parentVersion: 'demo@abc/p0', kind: 'prompt', baseModelVersion: 'demo@abc',
      prompt: { shape: [77, 4], dtype: 'float32', data: Buffer.alloc(77 * 4 * 4), sha256: 'x' }, artifact: null,
      lineage: { sampleCount: 10, metrics: { atdAuroc: 0.9 }, kernelArgs: { epochs: '3' } }, createdAt: 1700000000000,
      sequence: 3, rollback: false, signature: { keyId: '0123456789abcdef', value: Buffer.alloc(64, 7) },
    },
    ReviewDecision: { itemId: 'img-1', decision: 'new_concept', label: null, concept: 'crescent', caption: null, reviewer: null, decidedAt: 1700000000000 },
  };
}

/** A deep copy with plain prototypes (avsc decodes records into class instances); Buffers kept. */
export function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value) || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(plain);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}
