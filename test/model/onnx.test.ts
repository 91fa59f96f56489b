import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession, type OnnxOptions } from '../../src/model/index.js';
import { isClipnError } from '../../src/errors.js';

const DEMO = join(import.meta.dirname, '..', '..', 'models', 'demo');
const IMAGE = join(DEMO, 'image.onnx');
const S = (JSON.parse(readFileSync(join(DEMO, 'manifest.json'), 'utf8')) as { preprocess: { imageSize: number } }).preprocess.imageSize;
const opts = (executionProviders: OnnxOptions['executionProviders']): OnnxOptions => ({ executionProviders, intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all' });

test('["cuda"] runs on CUDA or fails with EXECUTION_PROVIDER_UNAVAILABLE, never silently on the CPU', async () => {
  try {
    const s = await createSession(IMAGE, opts(['cuda']));
    assert.equal(s.provider, 'cuda');
    await s.release();
  } catch (error) {
    assert.ok(isClipnError(error, 'EXECUTION_PROVIDER_UNAVAILABLE'), String(error));
    assert.match((error as Error).message, /tried cuda\): cuda: /);
  }
});

test('["cuda", "cpu"] falls back to the CPU when CUDA cannot load, and runs', async () => {
  const s = await createSession(IMAGE, opts(['cuda', 'cpu']));
  assert.ok(s.provider === 'cuda' || s.provider === 'cpu');
  assert.deepEqual(s.inputNames, ['pixel_values']);
  const out = await s.run({ pixel_values: { type: 'float32', data: new Float32Array(2 * 3 * S * S).fill(0.1), dims: [2, 3, S, S] } });
  assert.equal(out.image_embeds!.dims[0], 2);
  assert.ok(out.image_embeds!.data instanceof Float32Array);
  assert.ok(Array.from(out.image_embeds!.data).every(Number.isFinite));
  await s.release();
});

test('bad requests fail with coded errors', async () => {
  await assert.rejects(createSession(IMAGE, opts([])), (e: unknown) => isClipnError(e, 'CONFIG_INVALID'));
  const junk = join(mkdtempSync(join(tmpdir(), 'clipn-onnx-')), 'junk.onnx');
  writeFileSync(junk, 'not a graph');
  await assert.rejects(createSession(junk, opts(['cpu'])), (e: unknown) => isClipnError(e, 'MODEL_LOAD_FAILED') && /junk\.onnx/.test((e as Error).message));
  const s = await createSession(IMAGE, opts(['cpu']));
  // Wrong rank: ONNX Runtime refuses the run; the error is coded and names the graph.
  await assert.rejects(
    s.run({ pixel_values: { type: 'float32', data: new Float32Array(12), dims: [12] } }),
    (e: unknown) => isClipnError(e, 'INFERENCE_FAILED') && /image\.onnx/.test((e as Error).message),
  );
  await s.release();
});

test('intraOpSpinning false (ONNX Runtime session config allow_spinning 0) loads and gives the same outputs', async () => {
  const pixels = new Float32Array(3 * S * S).map((_, i) => Math.sin(i) * 2);
  const outputs: Float32Array[] = [];
  for (const intraOpSpinning of [true, false]) {
    const s = await createSession(IMAGE, { ...opts(['cpu']), intraOpThreads: 2, intraOpSpinning });
    const out = await s.run({ [s.inputNames[0]!]: { type: 'float32', data: pixels, dims: [1, 3, S, S] } });
    outputs.push(out[s.outputNames[0]!]!.data);
    await s.release();
  }
  assert.equal(outputs[0]!.length, outputs[1]!.length);
  // Threading changes reduction order only: equal within float32 rounding.
  for (let i = 0; i < outputs[0]!.length; i++) assert.ok(Math.abs(outputs[0]![i]! - outputs[1]![i]!) <= 1e-4, `output ${i}: ${outputs[0]![i]} vs ${outputs[1]![i]}`);
});
