/**
 * The plugin API: what a plugin module exports, what it may provide (image sources, routing
 * rules, review sinks, result hooks), and the context the host gives it. A plugin sees records
 * as plain values and bytes, never kafkajs or ONNX Runtime objects; the host owns delivery.
 */
import type { Meter, Tracer } from '@opentelemetry/api';
import type { z } from 'zod';
import type { ImageScore, LabelSet } from '../clipn/index.js';
import type { RecordName, ReviewItem, TaggedImage } from '../codec/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../telemetry/logger.js';

/** The API version this host implements; a plugin names the version it was written for. */
export const PLUGIN_API_VERSION = 1;

/** A record a plugin asks the host to produce. */
export interface PluginRecord {
  topic: string;
  key: string | Buffer | null;
  value: Buffer;
  headers?: Record<string, string | Buffer>;
}

/** What the host gives a plugin's `create`. */
export interface PluginContext<O> {
  /** The plugin's name. */
  readonly name: string;
  /** Its options, validated by its own schema and frozen. */
  readonly options: Readonly<O>;
  /** The service's configuration (read-only). */
  readonly config: Config;
  readonly logger: Logger;
  readonly meter: Meter;
  readonly tracer: Tracer;
  /** Encodes a record of the product's schemas (single-object or registry format, as configured). */
  encode(name: RecordName, value: unknown): Promise<Buffer>;
  /** Decodes one. */
  decode<N extends RecordName>(bytes: Uint8Array, name: N): Promise<unknown>;
  /** Produces records (acks from all in-sync replicas) outside a message's delivery, e.g. decisions from a webhook. */
  produce(records: readonly PluginRecord[]): Promise<void>;
  /** Aborted when the service stops. */
  readonly signal: AbortSignal;
}

/** Bytes of an image named by a URI of one scheme. */
export interface ImageSourcePlugin {
  resolve(uri: URL, options: { signal: AbortSignal; maxBytes: number }): Promise<{ bytes: Buffer; contentType: string | null }>;
}

/** What a routing rule decides for one scored image. */
export interface RoutingDecision {
  review: boolean;
  /** What a reviewer reads: why the image was sent. */
  reasons: string[];
}

/** What a routing rule sees. */
export interface RuleInput {
  score: ImageScore;
  labelSet: LabelSet;
  /** The label set's routing.params. */
  params: Readonly<Record<string, string>>;
}

/** A named routing rule a label set can choose (routing.rule), with parameters from the label set. */
export interface RoutingRulePlugin {
  decide(input: RuleInput): RoutingDecision;
  /** Checks a label set's parameters when it arrives; returns what is wrong, or null. */
  check?(params: Readonly<Record<string, string>>, labelSet: LabelSet): string | null;
}

/** What a review sink or result hook gets with a record: the input's key and headers. */
export interface RecordMeta {
  id: string;
  key: string | Buffer | null;
  headers: Record<string, string | Buffer>;
}

/**
 * Receives the review items of the images routed to review, before the input is committed. It
 * returns records for the host to produce with the message (the built-in sink returns the
 * review-topic record), or none when it delivered elsewhere (a labelling tool). A failure is the
 * message's failure: retried when retriable, then a dead letter naming the plugin.
 */
export interface ReviewSinkPlugin {
  deliver(item: ReviewItem, meta: RecordMeta): Promise<PluginRecord[] | void>;
}

/** What a result hook adds. */
export interface ResultAddition {
  /** Merged into the TaggedImage's metadata (the hook's keys win). */
  metadata?: Record<string, string>;
  /** More records to produce with the message. */
  records?: PluginRecord[];
}

/** Sees every tagged result before it is produced; may add metadata or records. */
export interface ResultHookPlugin {
  onResult(result: TaggedImage, meta: RecordMeta): Promise<ResultAddition | void>;
}

/** What a plugin provides; every part is optional. */
export interface PluginParts {
  /** By URI scheme, without the colon: { s3: ... }. */
  sources?: Record<string, ImageSourcePlugin>;
  /** By rule name. */
  routingRules?: Record<string, RoutingRulePlugin>;
  reviewSinks?: ReviewSinkPlugin[];
  resultHooks?: ResultHookPlugin[];
  /** Awaited at start-up, before the consumer joins. */
  start?(): Promise<void>;
  /** Why the plugin cannot take work now (shown by /readyz), or null. */
  notReady?(): string | null;
  /** Awaited at shutdown, after in-flight messages are delivered. */
  stop?(): Promise<void>;
}

/** What a plugin module's default export is. */
export interface ClipnPlugin<O = unknown> {
  name: string;
  /** The PLUGIN_API_VERSION it was written for. */
  apiVersion: number;
  /** Its options' schema (zod): the host validates them once at start-up. */
  options: z.ZodType<O>;
  create(context: PluginContext<O>): PluginParts | Promise<PluginParts>;
}

/** Declares a plugin with its options' type inferred from its schema. */
export function definePlugin<S extends z.ZodType>(plugin: { name: string; apiVersion: number; options: S; create(context: PluginContext<z.output<S>>): PluginParts | Promise<PluginParts> }): ClipnPlugin<z.output<S>> {
  // z.ZodType<unknown> does not narrow to ZodType<output<S>> by itself; S is exactly that type.
  return plugin as unknown as ClipnPlugin<z.output<S>>;
}
