/**
 * scripts/sbom.sh (CycloneDX, with the pinned generators fetched from the npm registry and PyPI
 * on first use) lists every runtime package of the images: each production package of the lock
 * that npm installed here (linux/x64, like the image), none of the dev-only ones, and each package
 * of the trainer's hashed Python lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/clipn-cli.js';

interface Bom {
  bomFormat: string;
  specVersion: string;
  metadata: { component: { type: string; name: string } };
  components: Array<{ name: string; version: string; purl?: string }>;
  dependencies: Array<{ ref: string; dependsOn?: string[] }>;
}

const npmPurl = (name: string, version: string) => `pkg:npm/${name.replace(/^@/, '%40')}@${version}`;

test('the SBOM lists every runtime package of the images, Node and Python, and no dev-only package', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-sbom-'));
  try {
    const out = join(dir, 'sbom.cdx.json');
    execFileSync('bash', [join(ROOT, 'scripts', 'sbom.sh'), out], { cwd: ROOT, stdio: 'pipe', timeout: 590_000 });
    const bom = JSON.parse(readFileSync(out, 'utf8')) as Bom;
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.deepEqual([bom.metadata.component.type, bom.metadata.component.name], ['container', 'clipn-sidecar']);
    const purls = new Set(bom.components.map((c) => c.purl));

    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean; link?: boolean }> };
    const runtime: string[] = [];
    const devOnly: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path.startsWith('node_modules/') || entry.link) continue;
      const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
      if (entry.dev) devOnly.push(npmPurl(name, entry.version!));
      // What npm installed on this linux/x64 machine, as in the image.
      else if (existsSync(join(ROOT, path, 'package.json'))) runtime.push(npmPurl(name, entry.version!));
    }
    assert.ok(runtime.length > 100, `${runtime.length} Node runtime packages`);
    assert.deepEqual(runtime.filter((p) => !purls.has(p)), [], 'every installed production package is listed');
    assert.deepEqual(devOnly.filter((p) => purls.has(p)), [], 'no dev-only package is listed');
    for (const direct of ['kafkajs', 'onnxruntime-node', 'sharp', 'avsc', 'zod']) assert.ok([...purls].some((p) => p?.startsWith(`pkg:npm/${direct}@`)), direct);

    const pins = readFileSync(join(ROOT, 'training', 'requirements.lock'), 'utf8').split('\n').map((l) => /^([a-z0-9._-]+)==(\S+)/i.exec(l)).filter((m) => m !== null);
    assert.ok(pins.length > 40, `${pins.length} Python pins`);
    assert.deepEqual(pins.map((m) => `pkg:pypi/${m[1]!.toLowerCase()}@${m[2]}`).filter((p) => !purls.has(p)), [], 'every locked Python package is listed');
    assert.ok(bom.components.some((c) => c.name === 'clipn-kernel'), 'the kernel itself');
    assert.ok(purls.has('pkg:pypi/torch@2.9.1'));
    const refs = new Set(bom.components.map((c) => (c as { 'bom-ref'?: string })['bom-ref']));
    assert.equal(refs.size, bom.components.length, 'bom-refs are unique');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
