import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import * as ours from '../../src/telemetry/semconv.js';

test('the copied messaging names match the conventions package (1.45 incubating, error.type stable)', () => {
  assert.ok(Object.keys(ours).length >= 10);
  for (const [name, value] of Object.entries(ours)) {
    const upstream = (incubating as Record<string, unknown>)[name];
    assert.equal(value, upstream, `${name}: expected ${String(upstream)}, got ${value}`);
  }
  assert.equal(ours.ATTR_ERROR_TYPE, stable.ATTR_ERROR_TYPE);
});

