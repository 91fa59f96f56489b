/** The values of the records the processor produces (schemas/*.avsc), built from a job and its scores. */
import type { ImageScore, PreparedLabelSet } from '../clipn/index.js';
import type { DeadLetter, ReviewItem, TaggedImage } from '../codec/index.js';
import type { ClipnError } from '../errors.js';
import { redactUris } from '../telemetry/redact-uri.js';
import type { ImageJob } from './input.js';
import type { RoutingDecision } from '../plugin/index.js';

export interface Timings {
  resolveMs: number;
  decodeMs: number;
  inferMs: number;
  scoreMs: number;
  totalMs: number;
}

const sourceOf = (job: ImageJob) => ({ topic: job.source.topic, partition: job.source.partition, offset: Number(job.source.offset) });
const scoresOf = ({ scores: s }: ImageScore) => ({ ctw: s.ctw, atd: s.atd, msp: s.msp, maxLogit: s.maxLogit, energy: s.energy, ctwLogOdds: s.ctwLogOdds, atdLogOdds: s.atdLogOdds });
const topOf = (s: ImageScore) => s.top.map((t) => ({ label: t.label, index: t.index, p: t.p, pYes: t.pYes }));

export function taggedImage(job: ImageJob, score: ImageScore, prepared: PreparedLabelSet, decision: RoutingDecision, timings: Timings): TaggedImage {
  return {
    id: job.id,
    key: job.key,
    source: sourceOf(job),
    label: score.label,
    index: score.index,
    scores: scoresOf(score),
    ood: { ...score.ood },
    routed: decision.review,
    reasons: decision.reasons,
    top: topOf(score),
    labelSet: { id: prepared.labelSet.id, version: prepared.labelSet.version },
    model: { version: prepared.modelVersion, promptVersion: prepared.promptVersion },
    timings,
    caption: job.caption,
    metadata: job.metadata,
    processedAt: Date.now(),
  };
}

export function reviewItem(
  job: ImageJob,
  score: ImageScore,
  prepared: PreparedLabelSet,
  decision: RoutingDecision,
  embedding: Float32Array,
  imageMode: 'inline' | 'reference' | 'none',
): ReviewItem {
  let image: ReviewItem['image'] = null;
  if (imageMode === 'inline' && job.image.kind === 'inline') image = Buffer.from(job.image.bytes.buffer, job.image.bytes.byteOffset, job.image.bytes.byteLength);
  else if (imageMode !== 'none') image = job.image.kind === 'uri' ? { uri: job.image.uri } : { uri: `kafka://${job.source.topic}/${job.source.partition}/${job.source.offset}` };
  let norm = 0;
  for (const v of embedding) norm += v * v;
  const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
  return {
    id: job.id,
    source: sourceOf(job),
    label: score.label,
    index: score.index,
    scores: scoresOf(score),
    ood: { ...score.ood },
    rule: prepared.labelSet.routing.rule,
    reasons: decision.reasons,
    top: topOf(score),
    imageEmbedding: Array.from(embedding, (v) => v * inv),
    image,
    contentType: job.image.kind === 'inline' ? (job.image.contentType ?? null) : null,
    caption: job.caption,
    labelSet: { id: prepared.labelSet.id, version: prepared.labelSet.version, labels: [...prepared.labelSet.labels] },
    model: { version: prepared.modelVersion, promptVersion: prepared.promptVersion },
    metadata: job.metadata,
    createdAt: Date.now(),
  };
}

/** A dead letter for a message that could not be processed; the value is kept up to a cap. */
export function deadLetter(
  message: { topic: string; partition: number; offset: string; key: Buffer | null; timestamp: string; value: Buffer | null; headers: Record<string, unknown> | undefined },
  error: ClipnError,
  id: string | null,
  maxValueBytes: number,
): DeadLetter {
  const value = message.value ?? Buffer.alloc(0);
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(message.headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && first !== null) headers[k] = Buffer.isBuffer(first) ? first : Buffer.from(String(first));
  }
  return {
    id,
    errorCode: error.code,
    // URLs cut to scheme, host and path: a pre-signed URL's query is its credential.
    errorMessage: redactUris(error.message).slice(0, 4000),
    retriable: error.retriable,
    source: { topic: message.topic, partition: message.partition, offset: Number(message.offset), key: message.key, timestamp: Number(message.timestamp) || null },
    headers,
    originalValue: value.subarray(0, maxValueBytes),
    originalValueBytes: value.length,
    truncated: value.length > maxValueBytes,
    failedAt: Date.now(),
  };
}
