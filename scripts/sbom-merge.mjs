// Merges the CycloneDX SBOMs of the image's two package worlds into one: the Node packages that
// `npm ci --omit=dev` installs on linux/x64 with glibc (cyclonedx-npm's listing of the lock, less
// the optional packages whose os, cpu or libc exclude that platform) and the trainer's Python
// packages (cyclonedx-py on the hashed lock).
// usage: node scripts/sbom-merge.mjs NODE.cdx.json PYTHON.cdx.json package-lock.json OUT.cdx.json
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const [nodeFile, pythonFile, lockFile, outFile] = process.argv.slice(2);
if (!outFile) throw new Error('usage: node scripts/sbom-merge.mjs NODE.cdx.json PYTHON.cdx.json package-lock.json OUT.cdx.json');
const node = JSON.parse(readFileSync(nodeFile, 'utf8'));
const python = JSON.parse(readFileSync(pythonFile, 'utf8'));
const lock = JSON.parse(readFileSync(lockFile, 'utf8'));

// npm skips an optional package whose os, cpu or libc excludes the image (linux, x64, glibc: Debian bookworm).
const fits = (list, value) => {
  if (!Array.isArray(list) || list.length === 0) return true;
  if (list.includes(`!${value}`)) return false;
  const allowed = list.filter((v) => !v.startsWith('!'));
  return allowed.length === 0 || allowed.includes(value);
};
const pathOf = (c) => c.properties?.find((p) => p.name === 'cdx:npm:package:path')?.value;
const installed = (c) => {
  const entry = lock.packages?.[pathOf(c)];
  return entry === undefined || (fits(entry.os, 'linux') && fits(entry.cpu, 'x64') && fits(entry.libc, 'glibc'));
};
const nodeComponents = node.components.filter(installed);
const kept = new Set([node.metadata.component['bom-ref'], ...nodeComponents.map((c) => c['bom-ref'])]);
const nodeDeps = node.dependencies.filter((d) => kept.has(d.ref)).map((d) => ({ ref: d.ref, dependsOn: (d.dependsOn ?? []).filter((r) => kept.has(r)) }));

// Python bom-refs (requirements-L<n>) are renamed so that they cannot meet a Node one.
const py = (ref) => `pypi:${ref}`;
const pythonRoot = { ...python.metadata.component, 'bom-ref': py(python.metadata.component['bom-ref']) };
const pythonComponents = python.components.map((c) => ({ ...c, 'bom-ref': py(c['bom-ref']) }));
const pythonDeps = [
  { ref: pythonRoot['bom-ref'], dependsOn: pythonComponents.map((c) => c['bom-ref']) },
  ...(python.dependencies ?? []).filter((d) => d.ref !== python.metadata.component['bom-ref']).map((d) => ({ ref: py(d.ref), dependsOn: (d.dependsOn ?? []).map(py) })),
];

const nodeRoot = node.metadata.component;
const image = { type: 'container', 'bom-ref': `image:${nodeRoot.name}@${nodeRoot.version}`, name: nodeRoot.name, version: nodeRoot.version, description: 'The clipn-sidecar images (runtime, cuda, trainer): the Node packages of all, the Python kernel of the trainer.' };
const tools = [...(node.metadata.tools?.components ?? []), ...(python.metadata.tools?.components ?? [])];
const bom = {
  $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  serialNumber: `urn:uuid:${randomUUID()}`,
  version: 1,
  metadata: { timestamp: new Date().toISOString(), tools: { components: tools }, component: image },
  components: [{ ...nodeRoot, scope: 'required' }, ...nodeComponents, pythonRoot, ...pythonComponents],
  dependencies: [{ ref: image['bom-ref'], dependsOn: [nodeRoot['bom-ref'], pythonRoot['bom-ref']] }, ...nodeDeps, ...pythonDeps],
};
writeFileSync(outFile, JSON.stringify(bom, null, 2) + '\n');
process.stdout.write(`${outFile}: ${nodeComponents.length} Node packages (${node.components.length - nodeComponents.length} for other platforms left out), ${pythonComponents.length} Python packages\n`);
