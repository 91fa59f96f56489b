/** Expands CLI path arguments (files, folders, globs) into image files, in a stable order. */
import { stat } from 'node:fs/promises';
import fg from 'fast-glob';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'];

/** Files named directly are kept whatever their extension (so a bad one is reported, not skipped). */
export async function expandPaths(args: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch(() => null);
    if (info?.isFile()) out.push(arg);
    else if (info?.isDirectory()) {
      const found = await fg(`**/*.{${IMAGE_EXTENSIONS.join(',')}}`, { cwd: arg, absolute: false, caseSensitiveMatch: false, onlyFiles: true });
      out.push(...found.sort().map((f) => `${arg.replace(/\/$/, '')}/${f}`));
    } else {
      const found = await fg(arg, { onlyFiles: true });
      out.push(...(found.length > 0 ? found.sort() : [arg]));
    }
  }
  return [...new Set(out)];
}
