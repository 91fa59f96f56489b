/**
 * Path settings are made absolute once, at load: a path the operator gave is relative to the
 * working folder; a default that names something the package ships (the demo bundle, the training
 * kernel's interpreter) is relative to the package, so the defaults work from any folder.
 */
import { isAbsolute, resolve } from 'node:path';

/** [section, key, default is inside the package]. */
const PATH_SETTINGS: ReadonlyArray<readonly [string, string, boolean]> = [
  ['model', 'dir', true],
  ['model', 'cacheDir', false],
  ['model', 'releaseArtifactRoot', false],
  ['images', 'fileRoot', false],
  ['trainer', 'samplesDir', false],
  ['trainer', 'pythonBin', true],
  ['trainer', 'artifactStore', false],
];

type Tree = Record<string, Record<string, unknown> | undefined>;

/** Folders relative paths are resolved against. */
export interface PathBases {
  /** The working folder: base of paths given in the file, the environment or overrides. */
  readonly cwd: string;
  /** The package's folder: base of defaults that point at what it ships. */
  readonly packageRoot: string;
}

/** Rewrites the path settings of `parsed` (validated, not yet frozen) as absolute paths; `given` is the unvalidated tree. */
export function resolvePaths(parsed: Tree, given: Tree, bases: PathBases): void {
  for (const [section, key, packaged] of PATH_SETTINGS) {
    const values = parsed[section];
    const value = values?.[key];
    if (typeof value !== 'string' || isAbsolute(value)) continue;
    // A URI (file://) is not a path; a bare command name is looked up on PATH.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || (key === 'pythonBin' && !value.includes('/'))) continue;
    const isGiven = given[section]?.[key] !== undefined;
    values![key] = resolve(isGiven || !packaged ? bases.cwd : bases.packageRoot, value);
  }
}
