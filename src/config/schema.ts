/**
 * The one configuration schema of the product, with a default for every value. Values coming
 * from environment variables are strings; the preprocessors below turn them into numbers,
 * booleans and lists, so a file and the environment go through the same checks.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;
const num = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), schema);
const int = (min: number) => num(z.number().int().min(min));
const bool = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());
const list = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(item));
const nullable = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (v === '' || v === 'null' ? null : v), schema.nullable());

const topics = z.object({
  input: list(z.string().min(1)).refine((a) => a.length > 0, "expected at least one value").default(['clipn.images']),
  results: z.string().min(1).default('clipn.results'),
  review: z.string().min(1).default('clipn.review'),
  deadLetter: z.string().min(1).default('clipn.dlq'),
  labelSets: z.string().min(1).default('clipn.label-sets'),
  modelReleases: z.string().min(1).default('clipn.model-releases'),
  reviewDecisions: z.string().min(1).default('clipn.review-decisions'),
});

const sasl = z.object({
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
  username: z.string().min(1),
  password: z.string().min(1),
});

export const configSchema = z.object({
  model: z
    .object({
      dir: z.string().min(1).default('models/demo'),
      executionProviders: list(z.enum(['cuda', 'tensorrt', 'webgpu', 'cpu'])).refine((a) => a.length > 0, "expected at least one value").default(['cpu']),
      intraOpThreads: int(0).default(0),
      interOpThreads: int(0).default(0),
      graphOptimization: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
      maxBatch: int(1).default(16),
      cacheDir: nullable(z.string().min(1)).default(null),
      cacheEntries: int(1).default(200_000),
    })
    .prefault({}),
  images: z
    .object({
      maxBytes: int(1).default(20 * MiB),
      maxPixels: int(1).default(40_000_000),
      decodeConcurrency: int(1).default(4),
      fetch: z
        .object({
          timeoutMs: int(1).default(5000),
          maxBytes: int(1).default(20 * MiB),
          allowPrivateNetworks: bool.default(false),
          allowedSchemes: list(z.enum(['http', 'https'])).default(['https', 'http']),
          maxRedirects: int(0).default(3),
        })
        .prefault({}),
      fileRoot: nullable(z.string().min(1)).default(null),
    })
    .prefault({}),
  kafka: z
    .object({
      brokers: list(z.string().regex(/^[^:]+:\d+$/, 'expected host:port')).refine((a) => a.length > 0, "expected at least one value").default(['127.0.0.1:9092']),
      clientId: z.string().min(1).default('clipn-sidecar'),
      groupId: z.string().min(1).default('clipn-sidecar'),
      ssl: bool.default(false),
      sasl: nullable(sasl).default(null),
      connectionTimeoutMs: int(1).default(10_000),
      requestTimeoutMs: int(1).default(30_000),
      topics: topics.prefault({}),
      partitionsConsumedConcurrently: int(1).default(8),
    })
    .prefault({}),
  processing: z
    .object({
      maxBatch: int(1).default(16),
      maxWaitMs: int(0).default(25),
      maxInFlight: int(1).default(256),
      delivery: z.enum(['at-least-once', 'exactly-once']).default('at-least-once'),
      shutdownTimeoutMs: int(1).default(30_000),
      defaultLabelSet: z.string().min(1).default('default'),
      modelName: z.string().min(1).default('demo'),
      review: z
        .object({
          image: z.enum(['inline', 'reference', 'none']).default('reference'),
          topK: int(1).default(5),
        })
        .prefault({}),
      deadLetter: z.object({ maxValueBytes: int(0).default(MiB) }).prefault({}),
    })
    .prefault({}),
  codec: z.object({ registryUrl: nullable(z.string().url()).default(null) }).prefault({}),
  telemetry: z
    .object({
      serviceName: z.string().min(1).default('clipn-sidecar'),
      logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      http: z.object({ host: z.string().min(1).default('0.0.0.0'), port: int(0).default(9464) }).prefault({}),
      otlpEndpoint: nullable(z.string().url()).default(null),
    })
    .prefault({}),
  trainer: z
    .object({
      samplesDir: z.string().min(1).default('.cache/trainer'),
      pythonBin: z.string().min(1).default('training/.venv/bin/python'),
      minNewSamples: int(1).default(200),
      intervalMs: nullable(int(1000)).default(null),
      marginAuroc: num(z.number().min(0).max(1)).default(0.005),
      heldOutShare: num(z.number().gt(0).lt(1)).default(0.2),
      captionSampleShare: num(z.number().min(0).max(1)).default(0),
      artifactStore: nullable(z.string().min(1)).default(null),
      maxSamples: int(1).default(100_000),
      groupId: z.string().min(1).default('clipn-trainer'),
    })
    .prefault({}),
});

/** The validated, frozen configuration. */
export type Config = z.infer<typeof configSchema>;
