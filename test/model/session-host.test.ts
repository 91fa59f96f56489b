import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { createSessionHost } from '../../src/model/session-host.js';
import type { OnnxOptions } from '../../src/model/index.js';
import { isClipnError } from '../../src/errors.js';
import { relErr } from '../helpers/golden.js';
import { ROOT } from '../helpers/clipn-cli.js';

const IMAGE = join(ROOT, 'models', 'demo', 'image.onnx');
const S = (JSON.parse(readFileSync(join(ROOT, 'models', 'demo', 'manifest.json'), 'utf8')) as { preprocess: { imageSize: number } }).preprocess.imageSize;
const OPTIONS: OnnxOptions = { executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all' };

function pixels(n: number): Float32Array {
  const data = new Float32Array(n * 3 * S * S);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.001);
  return data;
}

test('a session in the worker thread gives the outputs of one on the main thread, and takes a view into a larger batch', async () => {
  const worker = createSessionHost('worker');
  const main = createSessionHost('main');
  try {
    const [w, m] = await Promise.all([worker.create({ path: IMAGE }, OPTIONS), main.create({ path: IMAGE }, OPTIONS)]);
    assert.deepEqual([w.inputNames, w.outputNames, w.provider, w.inputShapes], [m.inputNames, m.outputNames, m.provider, m.inputShapes]);
    const all = pixels(5);
    // Images 1-3 of 5: the worker copies the view, not the whole buffer behind it.
    const view = all.subarray(3 * S * S, 4 * 3 * S * S);
    const feeds = { pixel_values: { type: 'float32' as const, data: view, dims: [3, 3, S, S] } };
    const [a, b] = [await w.run(feeds), await m.run(feeds)];
    assert.deepEqual(a.image_embeds!.dims, b.image_embeds!.dims);
    assert.ok(a.image_embeds!.data instanceof Float32Array);
    assert.ok(relErr(a.image_embeds!.data, b.image_embeds!.data) < 1e-5);
    assert.equal(view.length, 3 * 3 * S * S, 'the caller keeps its input');
    await Promise.all([w.release(), m.release()]);
  } finally {
    await Promise.all([worker.close(), main.close()]);
  }
});

test('graph bytes move to the worker without a copy when the array owns its buffer; a view into a larger buffer is copied', async () => {
  const worker = createSessionHost('worker');
  try {
    const owned = new Uint8Array(readFileSync(IMAGE));
    assert.equal(owned.byteLength, owned.buffer.byteLength);
    const a = await worker.create({ bytes: owned, name: 'owned image.onnx' }, OPTIONS);
    assert.equal(owned.byteLength, 0, 'the owning array was transferred (detached)');
    await assert.rejects(worker.create({ bytes: owned, name: 'owned image.onnx' }, OPTIONS), (e: unknown) => isClipnError(e) && e.code === 'MODEL_LOAD_FAILED' && /got 0 bytes/.test(e.message), 'bytes handed over once are refused with a coded error');
    const file = readFileSync(IMAGE);
    const larger = new Uint8Array(file.byteLength + 16);
    larger.set(file, 8);
    const view = larger.subarray(8, 8 + file.byteLength);
    const b = await worker.create({ bytes: view, name: 'view of image.onnx' }, OPTIONS);
    assert.equal(view.byteLength, file.byteLength, 'a view keeps its bytes (they were copied)');
    assert.ok(Buffer.from(view.buffer, view.byteOffset, view.byteLength).equals(file), 'and they are unchanged');
    const feeds = { pixel_values: { type: 'float32' as const, data: pixels(2), dims: [2, 3, S, S] } };
    assert.ok(relErr((await a.run(feeds)).image_embeds!.data, (await b.run(feeds)).image_embeds!.data) < 1e-6);
    await Promise.all([a.release(), b.release()]);
  } finally {
    await worker.close();
  }
});

test('while the worker runs a batch, the main event loop keeps turning', async () => {
  const host = createSessionHost('worker');
  try {
    const session = await host.create({ path: IMAGE }, OPTIONS);
    let ran = false;
    const run = session.run({ pixel_values: { type: 'float32', data: pixels(64), dims: [64, 3, S, S] } }).then(() => (ran = true));
    // Three turns of the event loop; on the main thread onnxruntime-node would hold it for the whole batch.
    for (let i = 0; i < 3; i++) await turn();
    assert.equal(ran, false, 'the loop turned three times before a 64-image batch ended');
    await run;
    await session.release();
  } finally {
    await host.close();
  }
});

test('failures in the worker come back as coded errors', async () => {
  const host = createSessionHost('worker');
  try {
    await assert.rejects(host.create({ path: IMAGE }, { ...OPTIONS, executionProviders: [] }), (e: unknown) => isClipnError(e, 'CONFIG_INVALID'));
    await assert.rejects(host.create({ bytes: new TextEncoder().encode('not a graph'), name: 'junk.onnx' }, OPTIONS), (e: unknown) => isClipnError(e, 'MODEL_LOAD_FAILED') && /junk\.onnx/.test((e as Error).message));
    const session = await host.create({ bytes: readFileSync(IMAGE), name: 'image from bytes' }, OPTIONS);
    await assert.rejects(session.run({ pixel_values: { type: 'float32', data: new Float32Array(7), dims: [1, 7] } }), (e: unknown) => isClipnError(e, 'INFERENCE_FAILED') && /image from bytes/.test((e as Error).message));
    // The session survives a failed run.
    const ok = await session.run({ pixel_values: { type: 'float32', data: pixels(1), dims: [1, 3, S, S] } });
    assert.equal(ok.image_embeds!.dims[0], 1);
    await session.release();
    await session.release();
    await assert.rejects(session.run({ pixel_values: { type: 'float32', data: pixels(1), dims: [1, 3, S, S] } }), (e: unknown) => isClipnError(e, 'INFERENCE_FAILED') && /released/.test((e as Error).message));
  } finally {
    await host.close();
  }
});

test('closing the host mid-run fails the pending run with INTERRUPTED, ends the worker after the run, and does not count as losing it', async () => {
  const host = createSessionHost('worker');
  const session = await host.create({ path: IMAGE }, OPTIONS);
  const pending = assert.rejects(session.run({ pixel_values: { type: 'float32', data: pixels(64), dims: [64, 3, S, S] } }), (e: unknown) => isClipnError(e, 'INTERRUPTED'));
  // The worker finishes the run it is in before it ends: stopping it mid-run would abort the process.
  await host.close();
  await host.close();
  await pending;
  await assert.rejects(host.create({ path: IMAGE }, OPTIONS), (e: unknown) => isClipnError(e, 'INTERRUPTED'));
  const lost = await Promise.race([host.lost.then(() => 'lost'), turn().then(() => 'not lost')]);
  assert.equal(lost, 'not lost');
});

test('an idle worker does not keep the process alive', () => {
  const script = join(mkdtempSync(join(tmpdir(), 'clipn-host-')), 'idle.mts');
  writeFileSync(script, `
    import { createSessionHost } from ${JSON.stringify(join(ROOT, 'src', 'model', 'session-host.ts'))};
    const host = createSessionHost('worker');
    const s = await host.create({ path: ${JSON.stringify(IMAGE)} }, { executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all' });
    console.log(s.provider);`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.signal, null, `the process did not exit by itself: ${child.stderr}`);
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'cpu');
});
