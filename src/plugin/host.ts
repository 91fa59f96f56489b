/**
 * The plugin host: loads the plugins named in config (`plugins.modules: [{ module, options }]`) beside the
 * built-in one, validates each one's options with its own schema, registers what each provides,
 * runs them through start-up, readiness and shutdown, and turns any failure of a plugin into a
 * coded error that names it (a message that fails in a plugin becomes a dead letter).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Meter, Tracer } from '@opentelemetry/api';
import type { LabelSet } from '../clipn/index.js';
import type { RecordCodec, RecordName } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { ClipnError } from '../errors.js';
import type { Producer } from '../kafka/index.js';
import type { HealthChecks } from '../telemetry/health.js';
import type { Logger } from '../telemetry/logger.js';
import { builtinPlugin, BUILTIN_PLUGIN, type BuiltinOptions } from './builtin.js';
import { PLUGIN_API_VERSION, type ClipnPlugin, type ImageSourcePlugin, type PluginParts, type PluginRecord, type ResultHookPlugin, type ReviewSinkPlugin, type RoutingDecision, type RuleInput, type RoutingRulePlugin } from './types.js';

/** What the host needs from the service. */
export interface PluginHostDeps {
  config: Config;
  logger: Logger;
  meter: Meter;
  tracer: Tracer;
  codec: RecordCodec;
  /** Produces records for plugins (outside message delivery). */
  produce(records: readonly PluginRecord[]): Promise<void>;
  builtin: BuiltinOptions;
}

/** How a service fulfils {@link PluginHostDeps.produce}: the records in one batch, acknowledged by all in-sync replicas. */
export async function sendPluginRecords(producer: Producer, records: readonly PluginRecord[]): Promise<void> {
  await producer.sendBatch({ acks: -1, topicMessages: records.map((r) => ({ topic: r.topic, messages: [{ key: r.key, value: r.value, headers: r.headers ?? {} }] })) });
}

interface Loaded {
  name: string;
  parts: PluginParts;
}

/** Runs `fn` as plugin `plugin`'s code: anything it throws becomes PLUGIN_FAILED naming it (retriable if it said so). */
export async function asPlugin<T>(plugin: string, what: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ClipnError && error.details.plugin === plugin) throw error;
    const retriable = (error as { retriable?: unknown } | null)?.retriable === true;
    const code = error instanceof ClipnError ? `${error.code}: ` : '';
    throw new ClipnError('PLUGIN_FAILED', `plugin ${plugin} (${what}): ${code}${(error as Error)?.message ?? String(error)}`, { cause: error, retriable, details: { plugin } });
  }
}

function checkShape(value: unknown, module: string): ClipnPlugin {
  const p = value as Partial<ClipnPlugin> | null;
  const problems: string[] = [];
  if (p === null || typeof p !== 'object') problems.push('a default export object');
  else {
    if (typeof p.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(p.name)) problems.push('name: a lower-case name ([a-z0-9._-])');
    if (typeof p.apiVersion !== 'number') problems.push('apiVersion: a number');
    if (typeof (p.options as { safeParse?: unknown } | undefined)?.safeParse !== 'function') problems.push('options: a zod schema');
    if (typeof p.create !== 'function') problems.push('create: a function');
  }
  if (problems.length > 0) throw new ClipnError('CONFIG_INVALID', `plugin module ${module}: expected ${problems.join(', ')}`, { details: { module } });
  return p as ClipnPlugin;
}

export class PluginHost {
  private readonly sources = new Map<string, { plugin: string; source: ImageSourcePlugin }>();
  private readonly rules = new Map<string, { plugin: string; rule: RoutingRulePlugin }>();
  private readonly sinks: Array<{ plugin: string; sink: ReviewSinkPlugin }> = [];
  private readonly hooks: Array<{ plugin: string; hook: ResultHookPlugin }> = [];
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly loaded: readonly Loaded[]) {
    for (const { name, parts } of loaded) {
      for (const [scheme, source] of Object.entries(parts.sources ?? {})) this.register(this.sources, scheme.replace(/:$/, '').toLowerCase(), { plugin: name, source }, 'image source for scheme');
      for (const [rule, r] of Object.entries(parts.routingRules ?? {})) this.register(this.rules, rule, { plugin: name, rule: r }, 'routing rule');
      for (const sink of parts.reviewSinks ?? []) this.sinks.push({ plugin: name, sink });
      for (const hook of parts.resultHooks ?? []) this.hooks.push({ plugin: name, hook });
    }
  }

  private register<T extends { plugin: string }>(map: Map<string, T>, key: string, value: T, what: string): void {
    const taken = map.get(key);
    if (taken) throw new ClipnError('CONFIG_INVALID', `plugin ${value.plugin}: ${what} ${key} is already provided by plugin ${taken.plugin}`, { details: { plugin: value.plugin } });
    map.set(key, value);
  }

  /** The built-in plugin and every plugin of config.plugins, created with validated options. */
  static async load(deps: PluginHostDeps): Promise<PluginHost> {
    const modules: Array<{ plugin: ClipnPlugin; options: unknown }> = [{ plugin: builtinPlugin(deps.builtin) as ClipnPlugin, options: {} }];
    for (const entry of deps.config.plugins.modules) {
      const specifier = entry.module.startsWith('.') || isAbsolute(entry.module) ? pathToFileURL(resolve(entry.module)).href : entry.module;
      let imported: { default?: unknown };
      try {
        imported = (await import(specifier)) as { default?: unknown };
      } catch (error) {
        throw new ClipnError('CONFIG_INVALID', `plugin module ${entry.module}: cannot be imported: ${(error as Error).message}`, { cause: error, details: { module: entry.module } });
      }
      modules.push({ plugin: checkShape(imported.default, entry.module), options: entry.options });
    }
    const names = new Set<string>();
    const loaded: Loaded[] = [];
    const abort = new AbortController();
    for (const { plugin, options } of modules) {
      if (names.has(plugin.name)) throw new ClipnError('CONFIG_INVALID', `plugin ${plugin.name}: loaded twice`, { details: { plugin: plugin.name } });
      names.add(plugin.name);
      if (plugin.apiVersion !== PLUGIN_API_VERSION) {
        throw new ClipnError('CONFIG_INVALID', `plugin ${plugin.name}: written for plugin API version ${plugin.apiVersion}, this host implements ${PLUGIN_API_VERSION}`, { details: { plugin: plugin.name } });
      }
      const parsed = plugin.options.safeParse(options);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${['options', ...i.path].join('.')}: ${i.message}`).join('; ');
        throw new ClipnError('CONFIG_INVALID', `plugin ${plugin.name}: ${issues}`, { details: { plugin: plugin.name } });
      }
      const name = plugin.name;
      const parts = await asPlugin(name, 'create', () =>
        plugin.create({
          name,
          options: Object.freeze(parsed.data) as never,
          config: deps.config,
          logger: deps.logger.child({ plugin: name }),
          meter: deps.meter,
          tracer: deps.tracer,
          encode: (record: RecordName, value: unknown) => deps.codec.encode(record, value),
          decode: async (bytes: Uint8Array, record: RecordName) => (await deps.codec.decode(bytes, record)).value,
          produce: deps.produce,
          signal: abort.signal,
        }),
      );
      loaded.push({ name, parts });
    }
    const host = new PluginHost(loaded);
    host.abort.signal.addEventListener('abort', () => abort.abort());
    return host;
  }

  /** Names of the plugins loaded, the built-in one first. */
  get names(): string[] {
    return this.loaded.map((l) => l.name);
  }

  /** Starts every plugin; registers a readiness check `plugin:<name>` for those that report one. */
  async start(readiness: HealthChecks): Promise<void> {
    const checks: Array<() => void> = [];
    for (const { name, parts } of this.loaded) {
      if (parts.start) await asPlugin(name, 'start', () => parts.start!());
      const notReady = parts.notReady;
      if (notReady) {
        const check = readiness.register(`plugin:${name}`, 'starting');
        checks.push(() => {
          let why: string | null;
          try {
            why = notReady();
          } catch (error) {
            why = `readiness check failed: ${(error as Error).message}`;
          }
          if (why === null) check.ready();
          else check.notReady(why);
        });
      }
    }
    const update = () => checks.forEach((c) => c());
    update();
    this.timer = setInterval(update, 500);
    this.timer.unref();
  }

  /** Stops every plugin (the built-in one last), each failure logged, none stopping the others. */
  async stop(logger: Logger): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    for (const { name, parts } of [...this.loaded].reverse()) {
      if (!parts.stop) continue;
      await asPlugin(name, 'stop', () => parts.stop!()).catch((error: unknown) => logger.warn({ plugin: name, err: error }, 'plugin stop failed'));
    }
  }

  /** Bytes of an image URI from the source registered for its scheme. */
  async resolve(uri: string, options: { signal: AbortSignal; maxBytes: number }): Promise<{ bytes: Buffer; contentType: string | null }> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new ClipnError('INPUT_INVALID', `expected an absolute URI, got ${JSON.stringify(uri.slice(0, 200))}`);
    }
    const scheme = url.protocol.replace(/:$/, '');
    const entry = this.sources.get(scheme);
    if (!entry) throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `URI scheme ${scheme} has no image source: expected one of ${[...this.sources.keys()].join(', ')} (a plugin can add one)`, { details: { scheme } });
    // The built-in sources keep their own coded errors (IMAGE_FETCH_TIMEOUT, ...).
    const got = entry.plugin === BUILTIN_PLUGIN ? await entry.source.resolve(url, options) : await asPlugin(entry.plugin, `source ${scheme}`, () => entry.source.resolve(url, options));
    if (!Buffer.isBuffer(got?.bytes)) throw new ClipnError('PLUGIN_FAILED', `plugin ${entry.plugin} (source ${scheme}): expected { bytes: Buffer }, got ${typeof got?.bytes}`, { details: { plugin: entry.plugin } });
    if (got.bytes.length > options.maxBytes) throw new ClipnError('IMAGE_TOO_MANY_BYTES', `${scheme} source: ${got.bytes.length} bytes, the limit is ${options.maxBytes}`, { details: { limit: options.maxBytes, got: got.bytes.length } });
    return got;
  }

  /** Whether a label set's rule exists and accepts its parameters: what is wrong, or null. */
  checkRule(labelSet: LabelSet): string | null {
    const entry = this.rules.get(labelSet.routing.rule);
    if (!entry) return `routing rule ${labelSet.routing.rule} is not provided: expected one of ${[...this.rules.keys()].join(', ')}`;
    return entry.rule.check?.(labelSet.routing.params, labelSet) ?? null;
  }

  /** The label set's rule's decision for one scored image. */
  decide(input: Omit<RuleInput, 'params'>): Promise<RoutingDecision> {
    const name = input.labelSet.routing.rule;
    const entry = this.rules.get(name);
    if (!entry) return Promise.reject(new ClipnError('LABEL_SET_INVALID', `routing rule ${name} is not provided`));
    const run = () => entry.rule.decide({ ...input, params: input.labelSet.routing.params });
    return entry.plugin === BUILTIN_PLUGIN ? Promise.resolve().then(run) : asPlugin(entry.plugin, `routing rule ${name}`, run);
  }

  /** The review sinks, in load order. */
  get reviewSinks(): ReadonlyArray<{ plugin: string; sink: ReviewSinkPlugin }> {
    return this.sinks;
  }

  /** The result hooks, in load order. */
  get resultHooks(): ReadonlyArray<{ plugin: string; hook: ResultHookPlugin }> {
    return this.hooks;
  }
}
