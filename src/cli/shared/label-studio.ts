/** The bundled label-studio plugin and a local Label Studio, for `clipn review label-studio` and `clipn demo --label-studio`. */
import { execFileSync } from 'node:child_process';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClipnError } from '../../errors.js';

/** The bundled plugin module: plugins/label-studio beside src/ (the sources, or dist/ when compiled). */
export function bundledLabelStudioModule(): string {
  const here = fileURLToPath(import.meta.url);
  return join(here, '..', '..', '..', '..', 'plugins', 'label-studio', `index${extname(here)}`);
}

/** A running local Label Studio as scripts/label-studio.sh describes it. */
export interface LocalLabelStudio {
  url: string;
  username: string;
  token: string;
}

/**
 * Starts the local Label Studio (scripts/label-studio.sh start: installed into its own venv on
 * first use, its own data folder) unless it runs already, and reads its URL, user and token.
 */
export function startLocalLabelStudio(root: string): LocalLabelStudio {
  const script = join(root, 'scripts', 'label-studio.sh');
  try {
    execFileSync('bash', [script, 'start'], { stdio: 'inherit' });
  } catch (error) {
    throw new ClipnError('CONFIG_INVALID', `scripts/label-studio.sh start failed (${(error as Error).message}); see its output above`, { cause: error });
  }
  // `env` prints NAME=value lines, values shell-quoted (%q); URL, e-mail and hex token need no unquoting beyond backslashes.
  const vars = new Map<string, string>();
  for (const line of execFileSync('bash', [script, 'env'], { encoding: 'utf8' }).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1).replace(/\\(.)/g, '$1'));
  }
  const url = vars.get('LABEL_STUDIO_URL');
  const token = vars.get('LABEL_STUDIO_TOKEN');
  const username = vars.get('LABEL_STUDIO_USERNAME') ?? '';
  if (!url || !token) throw new ClipnError('CONFIG_INVALID', 'scripts/label-studio.sh env: expected LABEL_STUDIO_URL and LABEL_STUDIO_TOKEN, got neither');
  return { url, username, token };
}
