import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../src/index.js';

test('the public index exposes the sidecar, classifier, codec and config entry points', () => {
  for (const name of ['Sidecar', 'ClipnClassifier', 'createCodec', 'loadConfig', 'loadBundle', 'ClipnError', 'startTelemetry', 'definePlugin', 'PluginHost'] as const) {
    assert.equal(typeof api[name], 'function', name);
  }
  assert.ok(api.RECORD_NAMES.includes('TaggedImage'));
  assert.ok(new api.ClipnError('INPUT_INVALID', 'x') instanceof Error);
});
