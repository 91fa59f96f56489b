import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/index.js';
import { loadServiceClassifier } from '../../../src/service/assembly/classifier.js';
import { createLogger } from '../../../src/telemetry/logger.js';

test('loadServiceClassifier loads the configured bundle with the configured cache and logs what it loaded', { timeout: 120_000 }, async () => {
  const config = loadConfig({ env: {} });
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', serviceName: 'test', destination: { write: (l: string) => (lines.push(l), true) } });
  const classifier = await loadServiceClassifier(config, logger, { dir: config.model.dir, topK: 2 });
  try {
    assert.equal(classifier.modelVersion, classifier.bundle.manifest.modelVersion);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; model?: string; prompt?: string }).find((l) => l.msg === 'model loaded');
    assert.deepEqual([logged?.model, logged?.prompt], [classifier.modelVersion, classifier.promptVersion]);
  } finally {
    await classifier.close();
  }
});
