/**
 * kafkajs client spans and metrics from @opentelemetry/instrumentation-kafkajs: `send <topic>`
 * (PRODUCER, one per message, its traceparent injected into the message's headers), `poll
 * <topic>` around each eachBatch call with per-message `process <topic>` spans, `transaction`,
 * and the messaging.client.* metrics.
 *
 * Two things the instrumentation cannot do alone here:
 * - It patches kafkajs when it is `require`d (require-in-the-middle); ESM imports bypass that.
 *   src/kafka/client-factory.ts requires kafkajs whenever it creates a client, and the patch of
 *   `Kafka.prototype` then covers the class the ESM imports see too (the same object), and
 *   ConfirmingKafka's `super.producer` call: its acknowledgement checks wrap instrumented sends.
 * - A send span's parent is the active context, one for the whole send call. The processor sends
 *   the records of many messages (each continuing its own trace) in one call, so
 *   {@link withSendParents} gives each message its own parent for the send spans.
 */
import { context, createContextKey, SpanKind, trace, type Context, type Span, type SpanOptions, type Tracer, type TracerOptions, type TracerProvider } from '@opentelemetry/api';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';

const SEND_PARENTS = createContextKey('clipn kafka send parents');

interface ParentQueue {
  readonly parents: ReadonlyArray<Context | undefined>;
  next: number;
}

/**
 * Runs `send` (one kafkajs send or sendBatch call) so that the instrumentation's send span of
 * its n-th message, counted across topicMessages in order, is a child of `parents[n]` (the
 * active context where that is undefined or the list is shorter).
 */
export function withSendParents<T>(parents: ReadonlyArray<Context | undefined>, send: () => T): T {
  const queue: ParentQueue = { parents, next: 0 };
  return context.with(context.active().setValue(SEND_PARENTS, queue), send);
}

/** The parent a PRODUCER span started in `ctx` takes: the next queued one, else `ctx`. */
function sendParent(ctx: Context, options: SpanOptions | undefined): Context {
  const queue = ctx.getValue(SEND_PARENTS) as ParentQueue | undefined;
  if (queue === undefined || options?.kind !== SpanKind.PRODUCER || queue.next >= queue.parents.length) return ctx;
  return queue.parents[queue.next++] ?? ctx;
}

/** A tracer whose PRODUCER spans take their parent from a {@link withSendParents} queue. */
class SendParentTracer implements Tracer {
  constructor(private readonly inner: Tracer) {}

  startSpan(name: string, options?: SpanOptions, ctx: Context = context.active()): Span {
    return this.inner.startSpan(name, options, sendParent(ctx, options));
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, ctx: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = args.length > 1 ? (args[0] as SpanOptions) : undefined;
    const ctx = args.length > 2 ? (args[1] as Context) : context.active();
    const span = this.startSpan(name, options, ctx);
    return context.with(trace.setSpan(ctx, span), fn as (s: Span) => ReturnType<F>, undefined, span);
  }
}

/** Hands out {@link SendParentTracer}s over `inner`'s tracers. */
class SendParentTracerProvider implements TracerProvider {
  constructor(private readonly inner: TracerProvider) {}

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    return new SendParentTracer(this.inner.getTracer(name, version, options));
  }
}

// One per process: require-in-the-middle patches a module for the first instrumentation that
// asks and hands later ones the patched exports without calling them, so a second instance
// would never patch kafkajs. Re-enabling this one patches the exports it kept.
let instance: KafkaJsInstrumentation | null = null;

/** The process's kafkajs instrumentation, for NodeSDK's `instrumentations`. */
export function kafkaInstrumentation(): KafkaJsInstrumentation {
  instance ??= new KafkaJsInstrumentation({ enabled: false });
  return instance;
}

/**
 * Call after NodeSDK.start() registered the instrumentation: its spans go through `provider`
 * with per-message send parents (NodeSDK gives it the global provider, which has none).
 */
export function useSendParents(instrumentation: KafkaJsInstrumentation, provider: TracerProvider): void {
  instrumentation.setTracerProvider(new SendParentTracerProvider(provider));
}
