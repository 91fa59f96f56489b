/**
 * The reference of every setting, read from the schema itself (path, environment variable,
 * default, meaning), and its Markdown rendering, which is docs/config.md.
 */
import type { z } from 'zod';
import { envNameOf } from './env.js';
import { configSchema } from './schema.js';
import type { ConfigKey } from './types.js';

interface Def {
  type: string;
  innerType?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The object schema inside defaults, nullables and pipes, if any. */
function objectInside(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  for (let node: z.ZodType | undefined = schema; node !== undefined; ) {
    const def = defOf(node);
    if (def.type === 'object') return def.shape;
    node = def.innerType ?? (def.type === 'pipe' ? def.out : undefined);
  }
  return undefined;
}

/** The keys a setting group accepts (`[]` for the root's sections), or undefined for a leaf or an unknown path. */
export function knownKeys(path: readonly PropertyKey[]): string[] | undefined {
  let shape = objectInside(configSchema);
  for (const key of path) {
    const child = shape?.[String(key)];
    shape = child === undefined ? undefined : objectInside(child);
  }
  return shape === undefined ? undefined : Object.keys(shape);
}

/** Every setting, depth first, in schema order; `defaults` is the configuration loaded from nothing. */
export function configReference(defaults: unknown): ConfigKey[] {
  const keys: ConfigKey[] = [];
  const walk = (shape: Record<string, z.ZodType>, prefix: string[], defaultsNode: unknown): void => {
    for (const [key, schema] of Object.entries(shape)) {
      const path = [...prefix, key];
      const value = defaultsNode !== null && typeof defaultsNode === 'object' ? (defaultsNode as Record<string, unknown>)[key] : undefined;
      const inner = objectInside(schema);
      const leafOrOptionalGroup = inner === undefined || schema.description !== undefined;
      if (leafOrOptionalGroup) keys.push({ path: path.join('.'), env: envNameOf(path.join('.')), default: value, meaning: schema.description ?? '' });
      if (inner !== undefined) walk(inner, path, value);
    }
  };
  walk(objectInside(configSchema)!, [], defaults);
  return keys;
}

const cell = (value: unknown): string => (value === undefined ? '' : `\`${JSON.stringify(value)}\``);

/** docs/config.md: how configuration is loaded, and a table of every setting. */
export function renderConfigReference(defaults: unknown): string {
  const rows = configReference(defaults).map((k) => `| \`${k.path}\` | \`${k.env}\` | ${cell(k.default)} | ${k.meaning.replace(/\|/g, '\\|')} |`);
  return `# Configuration

One schema (src/config/schema.ts), validated once at start-up into a frozen object. Sources,
later ones winning: the defaults below, a JSON file (\`--config FILE\`, or the file named by
\`CLIPN_CONFIG\`), \`CLIPN_*\` environment variables, then command-line flags.

- Environment variables: \`CLIPN_\` and the path, levels joined by \`__\`, each key in
  SNAKE_CASE (\`processing.maxBatch\` is \`CLIPN_PROCESSING__MAX_BATCH\`). Lists are
  comma-separated (\`CLIPN_KAFKA__BROKERS=a:9092,b:9092\`) or a JSON array; booleans are
  true/false (or 1/0, yes/no, on/off); an empty value or \`null\` sets a nullable setting to null.
  Variables without \`__\` (such as \`CLIPN_CONFIG\`) are not settings.
- Byte counts take an integer or a unit (\`512KiB\`, \`20MiB\`, \`1GB\`); durations marked in
  milliseconds take an integer or a unit (\`30s\`, \`15m\`, \`6h\`, \`1d\`).
- Unknown keys are errors, in the file and in \`CLIPN_<SECTION>__...\` variables. Every bad value
  is reported with its path (and variable) and what was expected and got, e.g.
  \`processing.maxBatch (CLIPN_PROCESSING__MAX_BATCH): expected integer >= 1, got -3\`.
- Relative paths you give (file, environment or flags) are relative to the working folder. The
  defaults of \`model.dir\` and \`trainer.pythonBin\` name what the package ships (the demo bundle,
  the training kernel's venv) and are relative to the package, so they work from any folder.
- Only JSON files are read (no YAML parser is bundled).
- The SASL password and credentials in URLs are redacted wherever the configuration is logged.

| path | environment variable | default | meaning |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}
