import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, REDACTED, redactConfig, secretsOf } from '../../src/config/index.js';

const withSecrets = () =>
  loadConfig({
    env: {
      CLIPN_KAFKA__SSL: 'true',
      CLIPN_KAFKA__SASL__MECHANISM: 'plain',
      CLIPN_KAFKA__SASL__USERNAME: 'svc',
      CLIPN_KAFKA__SASL__PASSWORD: 'hunter2',
      CLIPN_CODEC__REGISTRY_URL: 'https://bob:p%40ss@registry.example:8081/base',
      CLIPN_TELEMETRY__OTLP_ENDPOINT: 'https://otel.example/v1?token=tok123&region=eu',
      CLIPN_TRAINER__ARTIFACT_STORE: 'https://bucket.example/releases?X-Amz-Signature=sig456',
    },
  });

test('redaction hides the SASL password, URL credentials and secret query values, and keeps the rest', () => {
  const config = withSecrets();
  const redacted = redactConfig(config);
  const text = JSON.stringify(redacted);
  for (const secret of ['hunter2', 'bob', 'p%40ss', 'p@ss', 'tok123', 'sig456']) assert.ok(!text.includes(secret), secret);
  assert.equal(redacted.kafka.sasl?.password, REDACTED);
  assert.equal(redacted.kafka.sasl?.username, 'svc');
  assert.equal(redacted.codec.registryUrl, `https://${REDACTED}@registry.example:8081/base`);
  assert.equal(redacted.telemetry.otlpEndpoint, `https://otel.example/v1?token=${REDACTED}&region=eu`);
  assert.equal(redacted.kafka.brokers[0], config.kafka.brokers[0]);
  assert.equal(redacted.model.dir, config.model.dir);
  // The configuration itself is untouched.
  assert.equal(config.kafka.sasl?.password, 'hunter2');
});

test('a configuration without secrets is redacted to an equal copy', () => {
  const config = loadConfig({ env: { CLIPN_CODEC__REGISTRY_URL: 'http://registry:8081' } });
  assert.deepEqual(redactConfig(config), JSON.parse(JSON.stringify(config)));
  assert.deepEqual(secretsOf(config), []);
});

test('secretsOf lists every secret string for the log scrubber, encoded and decoded', () => {
  assert.deepEqual(new Set(secretsOf(withSecrets())), new Set(['hunter2', 'p%40ss', 'p@ss', 'tok123', 'sig456']));
});

test('an inline signing key is a secret: redacted, and scrubbed from log lines', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIH1x\n-----END PRIVATE KEY-----\n';
  const config = loadConfig({ env: { CLIPN_TRUST__SIGNING_KEY: pem } });
  assert.equal(redactConfig(config).trust.signingKey, REDACTED);
  assert.ok(secretsOf(config).includes(pem));
});
