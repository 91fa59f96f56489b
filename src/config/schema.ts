/**
 * The one configuration schema of the product: every setting with its default and its meaning
 * (the `describe` text is what docs/config.md shows). Objects are strict, so a misspelt key is an
 * error instead of a silently ignored setting.
 */
import { z } from 'zod';
import { kafkaConnectionShape } from '../kafka/options.js';
import { EXECUTION_PROVIDERS, INFERENCE_THREADS } from '../model/execution-providers.js';
import { bool, bytes, duration, fraction, hexColour, httpUrl, int, list, nullable, oneOf, text } from './coerce.js';

const MiB = 1024 * 1024;


const model = z
  .strictObject({
    dir: text().default('models/demo').describe('Model bundle folder (manifest.json, ONNX graphs, tokenizer), relative to the working folder; the default is the demo bundle the package ships.'),
    executionProviders: list(oneOf(EXECUTION_PROVIDERS))
      .default(['cpu'])
      .describe('ONNX Runtime execution providers, in order of preference.'),
    intraOpThreads: int(0).default(0).describe('Threads inside one operator; 0 lets ONNX Runtime choose.'),
    interOpThreads: int(0).default(0).describe('Threads across operators; 0 lets ONNX Runtime choose.'),
    graphOptimization: oneOf(['disabled', 'basic', 'extended', 'all']).default('all').describe('ONNX Runtime graph optimisation level.'),
    inferenceThread: oneOf(INFERENCE_THREADS)
      .default('worker')
      .describe('Where ONNX Runtime runs: worker, a thread of its own, so decoding, Kafka heartbeats and HTTP go on while a batch runs; main, the event loop (onnxruntime-node blocks it for a whole batch).'),
    intraOpSpinning: bool().default(true).describe('Idle ONNX Runtime intra-op threads spin before sleeping (faster hand-off between operators, but CPU taken from image decoding running beside inference).'),
    cacheDir: nullable(text()).default(null).describe('Folder of the text-embedding cache (label-set heads survive restarts); null keeps it in memory only.'),
    cacheEntries: int(1).default(200_000).describe('Most text embeddings kept in the cache.'),
    releaseArtifactRoot: nullable(text())
      .default(null)
      .describe('Folder no-tower releases are loaded from (their file:// URI or path must lie under it; point it at the trainer\'s artifact store); null refuses no-tower releases.'),
  })
  .prefault({});

const images = z
  .strictObject({
    maxBytes: bytes(1).default(20 * MiB).describe('Largest encoded image accepted (inline or fetched), in bytes.'),
    maxPixels: int(1).default(40_000_000).describe('Largest decoded image, in pixels: the decompression-bomb guard.'),
    decodeConcurrency: int(1).default(4).describe('Images decoded at the same time (libuv threads through sharp).'),
    background: hexColour().prefault('#ffffff').describe('Colour (#rrggbb) transparent images are flattened onto before encoding.'),
    fetch: z
      .strictObject({
        timeoutMs: duration(1).default(5000).describe('Limit on fetching one image URL, in milliseconds.'),
        maxBytes: bytes(1).default(20 * MiB).describe('Largest response body read from an image URL, in bytes.'),
        allowPrivateNetworks: bool().default(false).describe('Allow URLs that resolve to loopback, link-local or private addresses (off: no SSRF into internal services).'),
        allowedSchemes: list(oneOf(['https', 'http'])).default(['https', 'http']).describe('URL schemes the sidecar fetches.'),
        maxRedirects: int(0).default(3).describe('Redirects followed per image URL (each target checked again).'),
      })
      .prefault({}),
    fileRoot: nullable(text()).default(null).describe('file:// image URIs are served only from under this folder; null refuses them.'),
    maxAspectRatio: fraction(1, 10_000).default(10).describe('Long side / short side above which an image is elongated: a thin strip resized to a short side of the model size would be huge.'),
    elongated: oneOf(['crop', 'refuse'])
      .default('crop')
      .describe('What happens to an elongated image: crop cuts the centre square (with a margin for the filter) before resizing, the same pixels the centre crop keeps; refuse dead-letters it (IMAGE_ASPECT_UNSUPPORTED).'),
  })
  .prefault({});

const topics = z
  .strictObject({
    input: list(text()).default(['clipn.images']).describe('Topics of images to tag (raw image bytes or ImageRequest records).'),
    results: text().default('clipn.results').describe('TaggedImage records, one per input.'),
    review: text().default('clipn.review').describe('ReviewItem records for images the routing rule sends to review.'),
    deadLetter: text().default('clipn.dlq').describe('DeadLetter records for input that cannot be processed.'),
    labelSets: text().default('clipn.label-sets').describe('Compacted topic of LabelSet records (key: label set id).'),
    modelReleases: text().default('clipn.model-releases').describe('Compacted topic of ModelRelease records (key: model name).'),
    reviewDecisions: text().default('clipn.review-decisions').describe('ReviewDecision records the trainer learns from.'),
  })
  .prefault({});

const kafka = z
  .strictObject({
    ...kafkaConnectionShape,
    groupId: text().default('clipn-sidecar').describe('Consumer group of the input topics (side channels use <groupId>-labels and -releases).'),
    allowPlaintextSasl: bool()
      .default(false)
      .describe('Allow SASL without TLS (kafka.ssl false): the credentials (PLAIN sends the password as is) and every record travel in clear. Off: such a config is refused at start-up.'),
    partitionsConsumedConcurrently: int(1).default(8).describe('Input partitions processed at the same time.'),
    consumer: z
      .strictObject({
        sessionTimeoutMs: duration(6000)
          .default(10_000)
          .describe('Group session timeout: a member that stops heartbeating (kill -9, a lost network) keeps its partitions this long before they move. Shorter: faster recovery; longer: fewer rebalances on pauses.'),
        heartbeatIntervalMs: duration(100).default(1000).describe('How often the consumer heartbeats, also while a batch is in progress (a third of the session timeout or less).'),
        fetchMaxWaitMs: duration(100).default(1000).describe('Longest a fetch waits on the broker for new records: an idle consumer still hears from the broker this often.'),
        staleAfterMs: duration(1000).default(5000).describe('/readyz fails when the consumer has heard nothing from the broker (no fetch, heartbeat or commit) for this long.'),
        stallRestartMs: duration(0)
          .default(30_000)
          .describe('A group member that has heard nothing from the broker (no fetch, heartbeat or commit) for this long is replaced by a new consumer, counted as a restart: kafkajs keeps retrying a dead coordinator or partition leader for a minute or more before it crashes. 0: never.'),
        maxRestarts: int(0).default(5).describe('Restarts of a crashed consumer allowed within restartWindowMs; one more makes the service unhealthy and exit non-zero so the orchestrator restarts it.'),
        restartWindowMs: duration(1000).default(300_000).describe('Window of maxRestarts.'),
      })
      .prefault({}),
    topics,
    newTopics: z
      .strictObject({
        partitions: int(1).default(6).describe('Partitions of the stream topics the services create when missing (inputs, results, review, dead letters, decisions); side channels always get 1.'),
        replicationFactor: nullable(int(1)).default(null).describe('Replication factor of the topics the services create; null: the broker\'s default.replication.factor.'),
      })
      .prefault({}),
  })
  .prefault({});

const processing = z
  .strictObject({
    maxBatch: int(1).default(16).describe('Most images per inference batch, and per encoder run when label-set texts are encoded (bigger batches are split).'),
    maxWaitMs: int(0).default(25).describe('Longest wait for a batch to fill before it runs, in milliseconds.'),
    maxInFlight: int(1).default(256).describe('Most messages consumed but not yet committed (back-pressure).'),
    delivery: oneOf(['at-least-once', 'exactly-once'])
      .default('at-least-once')
      .describe('at-least-once: commit after outputs are acknowledged; exactly-once: outputs and offsets in one Kafka transaction.'),
    shutdownTimeoutMs: duration(1).default(30_000).describe('Longest a shutdown waits for in-flight work, in milliseconds.'),
    defaultLabelSet: text().default('default').describe('Label set for input that names none.'),
    modelName: text().default('demo').describe('Model name: the key of the model releases this sidecar applies.'),
    review: z
      .strictObject({
        image: oneOf(['inline', 'reference', 'none'])
          .default('reference')
          .describe('How review items carry the image: inline bytes, a reference (the input URI, or kafka://topic/partition/offset of an inline input), or not at all.'),
        topK: int(1, 100).default(5).describe('Best classes listed in results and review items.'),
      })
      .prefault({}),
    deadLetter: z
      .strictObject({
        maxValueBytes: bytes(0)
          .default(MiB)
          .describe('Most bytes of the failed input value kept in a dead letter (the full size is recorded); lowered further so the letter fits the topic\'s max.message.bytes.'),
      })
      .prefault({}),
    retry: z
      .strictObject({
        attempts: int(1, 100).default(4).describe('Tries of a message whose failure is retriable (fetch timeout, HTTP 5xx, a failed inference, an unknown label set) before it is dead-lettered.'),
        initialBackoffMs: duration(1).default(200).describe('Wait before the second try, in milliseconds; doubled for each further try.'),
        maxBackoffMs: duration(1).default(5000).describe('Longest wait between two tries, in milliseconds.'),
      })
      .prefault({}),
    memory: z
      .strictObject({
        maxInFlightBytes: bytes(MiB)
          .default(256 * MiB)
          .describe('Bytes of image data in flight (input values, fetched bodies, decoded pixels, tensors); past it, partitions pause until work drains.'),
      })
      .prefault({}),
    labelSets: z
      .strictObject({
        maxLabels: int(1).default(5000).describe('Most labels in one label set.'),
        maxTemplates: int(1).default(100).describe('Most prompt templates in one label set.'),
        maxTexts: int(1).default(100_000).describe('Most texts (labels x templates) one label set encodes: each costs two text-tower runs and cache memory.'),
        maxTextChars: int(1).default(300).describe('Longest label or template, in characters (CLIP reads 77 tokens at most).'),
      })
      .prefault({}),
  })
  .prefault({});

const codec = z
  .strictObject({
    registryUrl: nullable(httpUrl())
      .default(null)
      .describe('Confluent Schema Registry URL (user:password@ for basic auth); null uses Avro single-object encoding.'),
  })
  .prefault({});

const telemetry = z
  .strictObject({
    serviceName: text().default('clipn-sidecar').describe('service.name of logs, metrics and traces.'),
    logLevel: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Lowest level logged.'),
    http: z
      .strictObject({
        host: text().default('0.0.0.0').describe('Address of the /healthz, /readyz and /metrics server.'),
        port: int(0, 65535).default(9464).describe('Port of that server (0: any free port).'),
      })
      .prefault({}),
    otlpEndpoint: nullable(httpUrl()).default(null).describe('OTLP/HTTP endpoint for traces and metrics; null exports none.'),
    health: z
      .strictObject({
        eventLoopBlockedMs: duration(100)
          .default(10_000)
          .describe('/healthz fails when the event loop was blocked this long at once, for eventLoopWindowMs after (clipn.event_loop.delay shows how long it is held: at most 250 ms with ViT-B-16 on 2 cores and the default inferenceThread worker, bench/RESULTS.md). With model.inferenceThread main keep it well above one image batch\'s inference: onnxruntime-node then runs a batch on the event loop (a ViT-B-16 batch of 8 takes 1.6-1.8 s on 2 idle cores).'),
        eventLoopWindowMs: duration(1000).default(30_000).describe('How long /healthz keeps failing after such a stall.'),
      })
      .prefault({}),
  })
  .prefault({});

const trainer = z
  .strictObject({
    samplesDir: text().default('.cache/trainer').describe('Folder of the reviewed samples (embeddings, captions, decisions), training runs and, by default, the release history.'),
    pythonBin: text().default('training/.venv/bin/python').describe('Python interpreter that runs the training kernel: a path (relative to the working folder; the default is the package\'s training venv) or a command on PATH.'),
    groupId: text().default('clipn-trainer').describe('Consumer group of the trainer.'),
    minNewSamples: int(1).default(200).describe('New reviewed samples that trigger a training run.'),
    schedule: nullable(duration(60_000))
      .default(null)
      .describe('Also train at this interval when there are new samples (e.g. 6h); null trains on minNewSamples only.'),
    marginAuroc: fraction(0, 1).default(0.005).describe('A candidate is published only if its held-out ATD AUROC is at least the serving AUROC minus this.'),
    marginAccuracy: fraction(0, 1).default(0.01).describe('A candidate is published only if its held-out ID accuracy is at least the serving accuracy minus this.'),
    minHeldOut: int(1).default(5).describe('Fewest held-out ID and OOD samples (each) a candidate is evaluated on; with fewer the run is refused.'),
    heldOutShare: fraction(0, 1, true).default(0.2).describe('Share of reviewed samples held out for evaluation (chosen by a hash of the item id keyed with splitSalt).'),
    splitSalt: nullable(text())
      .default(null)
      .describe('Secret key of the held-out split and of the sidecar\'s choice of sampled inputs, so whoever picks item ids cannot steer an item into either; null: the trainer makes a random one and keeps it in <samplesDir>/store/split-salt (the sidecar then chooses by the plain id). Set it from a Secret when several trainers or a rebuilt volume must agree.'),
    captionSampleShare: fraction(0, 1).default(0).describe('Share of captioned, not-OOD inputs the sidecar also sends to review (reason "sampled"); they train only once a reviewer decided, unless trainOnSampled.'),
    trainOnSampled: bool()
      .default(false)
      .describe('Also train on sampled captioned inputs nobody reviewed, as ID pairs (the caption and embedding are whatever the producer sent: untrusted).'),
    labelSetId: nullable(text())
      .default(null)
      .describe('Label set the gate evaluates candidates against (its latest version on the label-set topic); null: processing.defaultLabelSet.'),
    artifactStore: nullable(text())
      .default(null)
      .describe('Folder (a path or a file:// URI) keeping every release the trainer made (record, prompts, no-tower graphs); null: <samplesDir>/releases.'),
    httpPort: int(0, 65535).default(9465).describe('Port of the trainer\'s /healthz, /readyz and /metrics server on telemetry.http.host (0: any free port).'),
    kernel: z
      .strictObject({
        mode: oneOf(['prompts', 'no-tower'])
          .default('no-tower')
          .describe('no-tower: the whole no tower and its prompts (releases by artifact: the sidecar loads them only with model.releaseArtifactRoot set to this trainer\'s artifact store); prompts: the "no" prompts only (inline releases; learns far less, training/EXPERIMENTS.md).'),
        epochs: int(1).default(60).describe('Training epochs per run (training/EXPERIMENTS.md: 60 with distill 1 gains most while forgetting least).'),
        lr: fraction(0, 1, true).default(1e-3).describe('Learning rate.'),
        batch: int(2).default(64).describe('Samples per training batch.'),
        weightDecay: nullable(fraction(0, 10)).default(null).describe('AdamW weight decay; null uses the kernel\'s default.'),
        seed: int(0).default(0).describe('Random seed of a run.'),
        device: oneOf(['auto', 'cpu', 'cuda']).default('auto').describe('Where the kernel trains (auto: cuda when available).'),
        balance: bool()
          .default(true)
          .describe('Weigh the OOD images\' rows of the "no" loss as much as the ID images\' in each batch (reviewed data is mostly ID); false: the paper\'s plain average.'),
        timeoutMs: duration(1000).default(3_600_000).describe('Longest a kernel run may take before it is killed, in milliseconds.'),
        clipnWeight: fraction(0, 100).default(0).describe('Weight of CLIPN\'s own losses on the reviewed captions (training/EXPERIMENTS.md: they move every caption\'s "no" text and hurt concepts nobody reviewed).'),
        servedWeight: fraction(0, 100).default(1).describe('Weight of the logistic loss of the served ATD score of each reviewed image against the gate\'s label set (OOD images OOD, ID images ID).'),
        distill: fraction(0, 100).default(1).describe('Weight of distillation toward the serving model: reviewed ID images keep their ATD scores, OOD images may only become more OOD (what keeps unreviewed concepts where they were).'),
        l2: fraction(0, 100).default(0).describe('Weight of the squared distance of the trained parameters to the serving ones (L2-SP).'),
        loraRank: int(0, 512).default(0).describe('0 trains every no-tower parameter (no-tower mode); r > 0 trains rank-r adapters on its matrices instead, merged into the released tower.'),
      })
      .prefault({}),
    regression: z
      .strictObject({
        heldOutDir: nullable(text())
          .default(null)
          .describe('Folder of held-out images (id/<label>/*, ood/<concept>/*) every candidate is also checked on; null: the bundle\'s own, named by "heldOut" in its quality.json (models/demo: models/demo-heldout).'),
        useBundleHeldOut: bool().default(true).describe('With heldOutDir null: check candidates on the held-out sets the bundle names; false: on reviewed samples only.'),
        margin: fraction(0, 1).default(0.01).describe('A candidate is refused when the ATD AUROC of any concept of the regression set, or an ID accuracy, is more than this below the serving model\'s.'),
        minSamples: int(1).default(10).describe('Fewest held-out images of a concept for it to be gated (fewer: reported, not gated).'),
      })
      .prefault({}),
    retention: z
      .strictObject({
        maxSamples: int(1).default(100_000).describe('Most review items kept; undecided ones are dropped first, then the oldest.'),
        maxPendingDecisions: int(1).default(10_000).describe('Most decisions kept whose review item has not arrived; the oldest are dropped first (never a decided sample).'),
      })
      .prefault({}),
  })
  .prefault({});

const plugins = z
  .strictObject({
    modules: z
      .preprocess(
        // From the environment the list comes as JSON text.
        (v) => {
          if (typeof v !== 'string') return v;
          try {
            return JSON.parse(v) as unknown;
          } catch {
            return v;
          }
        },
        z.array(
          z.strictObject({
            module: text(),
            options: z.record(z.string(), z.unknown()).default({}),
          }),
          { error: 'expected a list of {module, options} (JSON in the environment)' },
        ),
      )
      .default([])
      .describe('Plugins to load (docs/plugins.md), in order: each {module, options}; module is a path (relative to the working folder) or a package name.'),
  })
  .prefault({});

const trust = z
  .strictObject({
    publicKeys: list(text(), false)
      .default([])
      .describe('Trusted Ed25519 public keys of the side channels: each a PEM key, the base64 of its 32 raw bytes, or a file or folder of them (a mounted Secret). Set, unsigned or wrongly signed label sets and releases are refused, versions must increase (a release may go back only as a signed rollback); empty, records are not verified (a warning at start-up).'),
    signingKey: nullable(text())
      .default(null)
      .describe('Ed25519 private key (PKCS#8 PEM, inline or a file) that signs the releases the trainer publishes and what clipn labels put and clipn models rollback publish; null signs nothing (clipn keys generate makes a pair).'),
    maxArtifactBytes: bytes(1)
      .default(2 * 1024 * MiB)
      .describe('Largest no-tower graph a release may declare, in bytes: checked, with the file\'s size on disk, before anything is read.'),
  })
  .prefault({});

/** The whole configuration, with cross-setting checks. */
export const configSchema = z
  .strictObject({ model, images, kafka, processing, codec, telemetry, trainer, plugins, trust })
  .superRefine((c, ctx) => {
    const t = c.kafka.topics;
    const outputs = new Map([
      [t.results, 'results'],
      [t.review, 'review'],
      [t.deadLetter, 'deadLetter'],
      [t.labelSets, 'labelSets'],
      [t.modelReleases, 'modelReleases'],
      [t.reviewDecisions, 'reviewDecisions'],
    ]);
    t.input.forEach((topic, i) => {
      const other = outputs.get(topic);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['kafka', 'topics', 'input', i], input: topic, message: `expected a topic other than kafka.topics.${other} (a loop)` });
      }
    });
    if (c.kafka.consumer.heartbeatIntervalMs * 3 > c.kafka.consumer.sessionTimeoutMs) {
      ctx.addIssue({ code: 'custom', path: ['kafka', 'consumer', 'heartbeatIntervalMs'], input: c.kafka.consumer.heartbeatIntervalMs, message: `expected a third of kafka.consumer.sessionTimeoutMs (${c.kafka.consumer.sessionTimeoutMs}) or less` });
    }
    if (c.processing.maxInFlight < c.processing.maxBatch) {
      ctx.addIssue({ code: 'custom', path: ['processing', 'maxInFlight'], input: c.processing.maxInFlight, message: `expected at least processing.maxBatch (${c.processing.maxBatch})` });
    }
    if (c.kafka.sasl !== null && !c.kafka.ssl && !c.kafka.allowPlaintextSasl) {
      ctx.addIssue({ code: 'custom', path: ['kafka', 'ssl'], input: c.kafka.ssl, message: `expected true with kafka.sasl (${c.kafka.sasl.mechanism}): SASL without TLS sends the credentials and records in clear (set kafka.allowPlaintextSasl to allow)` });
    }
    const providers = c.model.executionProviders;
    if (new Set(providers).size !== providers.length) {
      ctx.addIssue({ code: 'custom', path: ['model', 'executionProviders'], input: providers, message: 'expected each provider once' });
    }
  });
