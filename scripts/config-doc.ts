// Writes docs/config.md: every setting, its environment variable and its default.
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/index.js';

const rows: string[] = [];
const walk = (node: unknown, path: string[]): void => {
  if (node && typeof node === 'object' && !Array.isArray(node)) {
    for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    return;
  }
  const env = 'CLIPN_' + path.map((p) => p.replace(/([A-Z])/g, '_$1').toUpperCase()).join('__');
  rows.push(`| \`${path.join('.')}\` | \`${env}\` | \`${JSON.stringify(node)}\` |`);
};
walk(loadConfig({ env: {} }), []);
writeFileSync(
  'docs/config.md',
  `# Configuration\n\nOne schema (src/config/schema.ts), validated once at start-up. Sources, later ones winning: the\ndefaults below, a JSON file (\`--config FILE\` or \`CLIPN_CONFIG\`), then \`CLIPN_*\` environment variables\n(levels joined by \`__\`, lists comma-separated). A bad value stops start-up with its path named,\ne.g. \`processing.maxBatch: Too small: expected number to be >=1, got "-3"\`. The SASL password and\ncredentials in URLs never reach the logs.\n\n| path | environment variable | default |\n| --- | --- | --- |\n${rows.join('\n')}\n\n\`kafka.sasl\` is null or \`{ "mechanism": "plain" | "scram-sha-256" | "scram-sha-512", "username", "password" }\`\n(\`CLIPN_KAFKA__SASL__MECHANISM\`, \`CLIPN_KAFKA__SASL__USERNAME\`, \`CLIPN_KAFKA__SASL__PASSWORD\`).\n`,
);
