/**
 * Public types of the record codec: the record names, their values as the codec reads and
 * writes them (the shapes of schemas/*.avsc), and the codec interface.
 *
 * Value conventions (avsc): `long` and `timestamp-millis` are JS numbers (safe integers),
 * `bytes` are Buffers, `float`/`double` numbers, optional fields are `null` when absent, and a
 * union of two records is wrapped in an object keyed by the branch's full name. Values are type
 * aliases, not interfaces, so that they convert to `Record<string, unknown>`.
 */

/** The records the system reads and writes, one schema file each in schemas/. */
export const RECORD_NAMES = ['ImageRequest', 'TaggedImage', 'ReviewItem', 'DeadLetter', 'LabelSet', 'ModelRelease', 'ReviewDecision'] as const;

/** The name of one record (also its schema file, `schemas/<name>.avsc`). */
export type RecordName = (typeof RECORD_NAMES)[number];

/** The namespace of every record: the full name is `io.clipn.v1.<RecordName>`. */
export const RECORD_NAMESPACE = 'io.clipn.v1';

/** Milliseconds since the Unix epoch (Avro `timestamp-millis`). */
export type EpochMillis = number;

/** Where a consumed message came from. */
export type SourceCoordinates = {
  topic: string;
  partition: number;
  offset: number;
};

/** Every score the model computes for one image. */
export type Scores = {
  /** Competing-to-win OOD score (higher: more in-distribution). */
  ctw: number;
  /** Agreeing-to-differ OOD score (higher: more in-distribution). */
  atd: number;
  /** Maximum softmax probability (baseline). */
  msp: number;
  /** Maximum logit (baseline). */
  maxLogit: number;
  /** Energy score (baseline). */
  energy: number;
  /** log(ctw / (1 - ctw)) in log space: ranks without the ties of the saturating ctw. */
  ctwLogOdds: number;
  /** log(atd / (1 - atd)) in log space: ranks without the ties of the saturating atd. */
  atdLogOdds: number;
};

/** Out-of-distribution verdicts of the two CLIPN rules. */
export type OodFlags = {
  ctw: boolean;
  atd: boolean;
};

/** One of the best classes of an image. */
export type TopClass = {
  label: string;
  index: number;
  /** Softmax probability over the label set's "yes" logits. */
  p: number;
  /** The class's probability of "yes" against its own "no". */
  pYes: number;
};

/** The model that scored a record. */
export type ModelRef = {
  version: string;
  promptVersion: string;
};

/** An image carried inside the request. */
export type InlineImage = {
  data: Buffer;
  contentType: string | null;
};

/** An image fetched from a URI (http(s):// or file:// under the configured root). */
export type ImageUri = {
  uri: string;
};

/** The input record (raw image bytes as a message value are accepted too). */
export type ImageRequest = {
  id: string;
  image: { 'io.clipn.v1.InlineImage': InlineImage } | { 'io.clipn.v1.ImageUri': ImageUri };
  labelSetId: string | null;
  caption: string | null;
  metadata: Record<string, string>;
  producedAt: EpochMillis | null;
};

/** Milliseconds spent in each stage for one image. */
export type Timings = {
  resolveMs: number;
  decodeMs: number;
  inferMs: number;
  scoreMs: number;
  totalMs: number;
};

/** The result for one input image. */
export type TaggedImage = {
  id: string;
  key: string | null;
  source: SourceCoordinates;
  label: string;
  index: number;
  scores: Scores;
  ood: OodFlags;
  routed: boolean;
  reasons: string[];
  top: TopClass[];
  labelSet: { id: string; version: number };
  model: ModelRef;
  timings: Timings;
  caption: string | null;
  metadata: Record<string, string>;
  processedAt: EpochMillis;
};

/** An image sent to review, with what a reviewer and the trainer need. */
export type ReviewItem = {
  id: string;
  source: SourceCoordinates;
  label: string;
  index: number;
  scores: Scores;
  ood: OodFlags;
  rule: string;
  reasons: string[];
  top: TopClass[];
  imageEmbedding: number[];
  /** The image inline (bytes), by reference ({uri}), or left out (null). */
  image: Buffer | { uri: string } | null;
  contentType: string | null;
  caption: string | null;
  labelSet: { id: string; version: number; labels: string[] };
  model: ModelRef;
  metadata: Record<string, string>;
  createdAt: EpochMillis;
};

/** Input that could not be processed, with enough of it to replay or inspect. */
export type DeadLetter = {
  id: string | null;
  errorCode: string;
  errorMessage: string;
  retriable: boolean;
  source: { topic: string; partition: number; offset: number; key: Buffer | null; timestamp: EpochMillis | null };
  headers: Record<string, Buffer>;
  originalValue: Buffer;
  originalValueBytes: number;
  truncated: boolean;
  failedAt: EpochMillis;
};


/** An Ed25519 signature of a side-channel record (docs/records.md, Signed records). */
export type Signature = {
  /** First 16 hex digits of the sha256 of the signer's raw 32-byte public key. */
  keyId: string;
  /** The 64 signature bytes. */
  value: Buffer;
};

/** A label set on the compacted label-set topic (key: its id). */
export type LabelSet = {
  id: string;
  version: number;
  labels: string[];
  templates: string[] | null;
  /** A built-in rule (ctw, atd, both, either, calibrated) or a plugin's, with its parameters. */
  routing: { rule: string; params: Record<string, string> };
  thresholds: { ctwLogOdds: number | null; atdLogOdds: number | null } | null;
  description: string | null;
  updatedAt: EpochMillis;
  /** True deletes the label set (a deletion that can be signed, unlike a tombstone). Default false. */
  deleted?: boolean;
  /** Null or absent when unsigned. */
  signature?: Signature | null;
};

/** New "no" prompts (inline) or a new no-text tower (by URI) for the sidecars. */
export type ModelRelease = {
  model: string;
  version: string;
  parentVersion: string | null;
  kind: 'prompt' | 'no_tower';
  baseModelVersion: string;
  prompt: { shape: number[]; dtype: string; data: Buffer; sha256: string } | null;
  artifact: { uri: string; sha256: string; bytes: number } | null;
  lineage: { sampleCount: number; metrics: Record<string, number>; kernelArgs: Record<string, string> };
  createdAt: EpochMillis;
  /** Publication order of the model's releases (default 0); set when published. */
  sequence?: number;
  /** True when an earlier version is republished on purpose (default false). */
  rollback?: boolean;
  /** Null or absent when unsigned. */
  signature?: Signature | null;
};

/** A reviewer's decision on a review item. */
export type ReviewDecision = {
  itemId: string;
  decision: 'is_class' | 'none_of_labels' | 'new_concept';
  label: string | null;
  concept: string | null;
  caption: string | null;
  reviewer: string | null;
  decidedAt: EpochMillis;
};

/** The value type of each record. */
export interface RecordValues {
  ImageRequest: ImageRequest;
  TaggedImage: TaggedImage;
  ReviewItem: ReviewItem;
  DeadLetter: DeadLetter;
  LabelSet: LabelSet;
  ModelRelease: ModelRelease;
  ReviewDecision: ReviewDecision;
}

/** A decoded record: its name and its value. */
export type DecodedRecord<N extends RecordName = RecordName> = { [K in N]: { name: K; value: RecordValues[K] } }[N];

/** Encodes and decodes the product's records in one wire format. */
export interface RecordCodec {
  /** `single-object` (Avro specification) or `confluent` (Schema Registry wire format). */
  readonly format: 'single-object' | 'confluent';
  /**
   * Encodes a record; a value that does not fit its schema is a CODEC_ENCODE_FAILED naming
   * every bad field path. Values are checked at run time, so `unknown` is accepted.
   */
  encode(name: RecordName, value: unknown): Promise<Buffer>;
  /**
   * Decodes a record. With `expected`, a record of another type is a CODEC_DECODE_FAILED; an
   * unknown schema is CODEC_UNKNOWN_FINGERPRINT; bad framing or a garbled body
   * CODEC_DECODE_FAILED.
   */
  decode<N extends RecordName>(bytes: Uint8Array, expected: N): Promise<DecodedRecord<N>>;
  decode(bytes: Uint8Array): Promise<DecodedRecord>;
  /** True when the bytes are framed like a record of this codec (raw image bytes are not). */
  looksLikeRecord(bytes: Uint8Array): boolean;
  /**
   * The Avro binary body of a record under this version's schema, without the wire format's
   * framing: the same bytes in either format (signatures cover them). CODEC_ENCODE_FAILED as
   * for encode.
   */
  canonicalBody(name: RecordName, value: unknown): Buffer;
}
