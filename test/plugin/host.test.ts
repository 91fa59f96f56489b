import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metrics, trace } from '@opentelemetry/api';
import { parseLabelSet } from '../../src/clipn/index.js';
import { createCodec } from '../../src/codec/index.js';
import { loadConfig } from '../../src/config/index.js';
import { isClipnError } from '../../src/errors.js';
import { PluginHost, sendPluginRecords, type PluginRecord } from '../../src/plugin/index.js';
import type { Producer } from '../../src/kafka/index.js';
import { HealthChecks } from '../../src/telemetry/health.js';
import { createLogger } from '../../src/telemetry/logger.js';

const logger = createLogger({ level: 'silent', serviceName: 'test' });
const dir = mkdtempSync(join(tmpdir(), 'clipn-plugins-'));

/** A plugin module on disk, written as plain JavaScript (a plugin needs nothing from the host at run time). */
function pluginFile(name: string, body: string): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, body);
  return file;
}

// A stand-in for a zod schema: the host only calls safeParse.
const anyOptions = `{ safeParse: (v) => ({ success: true, data: v }) }`;

async function host(modules: Array<{ module: string; options?: Record<string, unknown> }>, produced: PluginRecord[] = []) {
  const config = loadConfig({ env: { CLIPN_PLUGINS__MODULES: JSON.stringify(modules) } });
  return PluginHost.load({
    config,
    logger,
    meter: metrics.getMeter('test'),
    tracer: trace.getTracer('test'),
    codec: createCodec({ registryUrl: null }),
    produce: async (records) => void produced.push(...records),
    builtin: { reviewLimit: () => true },
  });
}

const labelSet = (rule: string, extra: Record<string, unknown> = {}) => parseLabelSet({ id: 'x', labels: ['a', 'b'], routing: { rule, params: { level: '2' } }, ...extra });
const score = { index: 0, label: 'a', scores: { ctw: 0.2, atd: 0.3, msp: 0.6, maxLogit: 3, energy: 3.1, ctwLogOdds: -1.4, atdLogOdds: -0.8, mspLogOdds: 0.4 }, ood: { ctw: true, atd: false }, top: [] };
const invalid = (pattern: RegExp) => (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && pattern.test((e as Error).message);

test('the built-in plugin provides the http, https and file sources, the CLIPN rules and the review sink', async () => {
  const h = await host([]);
  assert.deepEqual(h.names, ['clipn']);
  assert.equal(h.reviewSinks.length, 1);
  assert.equal(h.checkRule(labelSet('either')), null);
  assert.match(h.checkRule(labelSet('nope')) ?? '', /routing rule nope is not provided: expected one of ctw, atd, both, either, calibrated/);
  assert.match(h.checkRule(labelSet('calibrated', { thresholds: { atdLogOdds: 1 } })) ?? 'ok', /^ok$/);
  assert.deepEqual(await h.decide({ score, labelSet: labelSet('either') }), { review: true, reasons: ['ctw: p_no > p_yes for the predicted class (log-odds -1.4000)'] });
  // The built-in sources keep the private-address guard and their own codes.
  await assert.rejects(h.resolve('http://127.0.0.1:9/x.png', { signal: AbortSignal.timeout(5000), maxBytes: 100 }), (e: unknown) => isClipnError(e, 'IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(h.resolve('gopher://x/y', { signal: AbortSignal.timeout(5000), maxBytes: 100 }), (e: unknown) => isClipnError(e, 'IMAGE_SOURCE_FORBIDDEN') && /scheme gopher has no image source: expected one of http, https, file/.test((e as Error).message));
});

test('a plugin from a path adds a source, a rule, a hook and a sink; its failures name it and keep their retriability', async () => {
  const file = pluginFile('memory-source', `export default {
    name: 'memory', apiVersion: 1, options: ${anyOptions},
    create(ctx) {
      return {
        sources: { mem: { resolve: async (uri) => {
          if (uri.pathname === '/flaky') throw Object.assign(new Error('try later'), { retriable: true });
          if (uri.pathname === '/huge') return { bytes: Buffer.alloc(1000), contentType: null };
          return { bytes: Buffer.from(ctx.options.prefix + uri.pathname), contentType: 'text/plain' };
        } } },
        routingRules: { above: { decide: ({ score, params }) => ({ review: score.scores.msp > Number(params.level) / 10, reasons: ['msp above'] }), check: (p) => (p.level ? null : 'needs params.level') } },
        resultHooks: [{ onResult: async () => { throw new Error('hook broke'); } }],
        reviewSinks: [{ deliver: async () => { await ctx.produce([{ topic: 't', key: 'k', value: Buffer.from('v') }]); } }],
      };
    },
  };`);
  const produced: PluginRecord[] = [];
  const h = await host([{ module: file, options: { prefix: 'p' } }], produced);
  assert.deepEqual(h.names, ['clipn', 'memory']);
  const got = await h.resolve('mem://host/a', { signal: AbortSignal.timeout(5000), maxBytes: 100 });
  assert.equal(got.bytes.toString(), 'p/a');
  await assert.rejects(h.resolve('mem://host/flaky', { signal: AbortSignal.timeout(5000), maxBytes: 100 }), (e: unknown) => isClipnError(e, 'PLUGIN_FAILED') && e.retriable && /plugin memory \(source mem\): try later/.test(e.message) && e.details.plugin === 'memory');
  await assert.rejects(h.resolve('mem://host/huge', { signal: AbortSignal.timeout(5000), maxBytes: 100 }), (e: unknown) => isClipnError(e, 'IMAGE_TOO_MANY_BYTES'));
  assert.equal(h.checkRule(labelSet('above')), null);
  assert.deepEqual(await h.decide({ score, labelSet: labelSet('above') }), { review: true, reasons: ['msp above'] });
  const [hook] = h.resultHooks;
  assert.equal(hook!.plugin, 'memory');
  assert.equal(h.reviewSinks.length, 2);
  await h.reviewSinks[1]!.sink.deliver({} as never, { id: 'i', key: null, headers: {} });
  assert.equal(produced.length, 1);
});

test('bad plugins fail at start-up with the reason: shape, API version, options, duplicates, imports', async () => {
  await assert.rejects(host([{ module: join(dir, 'missing.mjs') }]), invalid(/plugin module .*missing\.mjs: cannot be imported/));
  await assert.rejects(host([{ module: pluginFile('shape', 'export default { name: "Bad Name", apiVersion: "1" };') }]), invalid(/expected name: a lower-case name.*apiVersion: a number.*options: a zod schema.*create: a function/));
  await assert.rejects(host([{ module: pluginFile('future', `export default { name: 'future', apiVersion: 2, options: ${anyOptions}, create: () => ({}) };`) }]), invalid(/plugin future: written for plugin API version 2, this host implements 1/));
  await assert.rejects(host([{ module: pluginFile('clash', `export default { name: 'clash', apiVersion: 1, options: ${anyOptions}, create: () => ({ sources: { https: { resolve: async () => ({ bytes: Buffer.alloc(0), contentType: null }) } } }) };`) }]), invalid(/plugin clash: image source for scheme https is already provided by plugin clipn/));
  await assert.rejects(host([{ module: './plugins/examples/add-field/index.ts', options: { fields: {} } }]), invalid(/plugin add-field: options\.fields: at least one field/));
  await assert.rejects(host([{ module: './plugins/examples/add-field/index.ts', options: { fields: { a: 'b' }, colour: 'red' } }]), invalid(/plugin add-field: options: Unrecognized key: "colour"/));
  const create = pluginFile('throws', `export default { name: 'throws', apiVersion: 1, options: ${anyOptions}, create() { throw new Error('no credentials'); } };`);
  await assert.rejects(host([{ module: create }]), (e: unknown) => isClipnError(e, 'PLUGIN_FAILED') && /plugin throws \(create\): no credentials/.test((e as Error).message));
});

test('a plugin takes part in readiness and shutdown', async () => {
  let ready = false;
  const events: string[] = [];
  (globalThis as Record<string, unknown>).__pluginProbe = { isReady: () => ready, events };
  const file = pluginFile('lifecycle', `export default {
    name: 'lifecycle', apiVersion: 1, options: ${anyOptions},
    create() {
      const probe = globalThis.__pluginProbe;
      return { start: async () => probe.events.push('start'), stop: async () => probe.events.push('stop'), notReady: () => (probe.isReady() ? null : 'not connected yet') };
    },
  };`);
  const h = await host([{ module: file }]);
  const readiness = new HealthChecks();
  await h.start(readiness);
  assert.deepEqual(readiness.report().failing, { 'plugin:lifecycle': 'not connected yet' });
  ready = true;
  const deadline = Date.now() + 5000;
  while (!readiness.report().ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(readiness.report().ready, true);
  await h.stop(logger);
  assert.deepEqual(events, ['start', 'stop']);
});

test('the example plugin adds its fields to every result', async () => {
  const h = await host([{ module: './plugins/examples/add-field/index.ts', options: { fields: { stage: 'ingest' }, labelKey: 'class' } }]);
  const added = await h.resultHooks[0]!.hook.onResult({ label: 'star' } as never, { id: 'i', key: null, headers: {} });
  assert.deepEqual(added, { metadata: { stage: 'ingest', class: 'star' } });
});

test('sendPluginRecords sends the records in one batch acknowledged by all replicas, headers defaulting to none', async () => {
  const batches: unknown[] = [];
  const producer = { sendBatch: async (batch: unknown) => (batches.push(batch), []) } as unknown as Producer;
  await sendPluginRecords(producer, [
    { topic: 'a', key: 'k', value: Buffer.from('1') },
    { topic: 'b', key: null, value: Buffer.from('2'), headers: { h: 'v' } },
  ]);
  assert.deepEqual(batches, [{
    acks: -1,
    topicMessages: [
      { topic: 'a', messages: [{ key: 'k', value: Buffer.from('1'), headers: {} }] },
      { topic: 'b', messages: [{ key: null, value: Buffer.from('2'), headers: { h: 'v' } }] },
    ],
  }]);
});
