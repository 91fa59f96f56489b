/**
 * Text-embedding cache keyed by (model version, tower, prompt version, template, label): a new
 * label set encodes only the texts it has not seen, and a prompt release re-encodes only the
 * no tower. In memory with an entry bound; on disk too when a folder is configured.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The identity of one cached text embedding. */
export interface CacheKey {
  modelVersion: string;
  tower: 'yes' | 'no';
  /** The prompt version for the no tower; '' for the yes tower. */
  promptVersion: string;
  template: string;
  label: string;
}

export interface EmbeddingCacheOptions {
  /** Most entries kept in memory. */
  maxEntries: number;
  /** Folder for the persisted cache; null keeps it in memory only. */
  dir: string | null;
}

/** Hit and miss counts, for metrics. */
export interface CacheStats {
  hits: number;
  misses: number;
}

export class EmbeddingCache {
  private readonly memory = new Map<string, Float32Array>();
  readonly stats: CacheStats = { hits: 0, misses: 0 };

  constructor(private readonly options: EmbeddingCacheOptions) {}

  static keyOf(key: CacheKey): string {
    return createHash('sha256')
      .update(JSON.stringify([key.modelVersion, key.tower, key.promptVersion, key.template, key.label]))
      .digest('hex');
  }

  /** The embedding if cached (memory, then disk), else undefined. */
  async get(key: CacheKey, dim: number): Promise<Float32Array | undefined> {
    const id = EmbeddingCache.keyOf(key);
    let hit = this.memory.get(id);
    if (hit === undefined && this.options.dir !== null) {
      const bytes = await readFile(join(this.options.dir, id.slice(0, 2), `${id}.f32`)).catch(() => undefined);
      if (bytes !== undefined && bytes.byteLength === dim * 4) {
        hit = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        this.remember(id, hit);
      }
    }
    if (hit === undefined) this.stats.misses++;
    else {
      this.stats.hits++;
      // Refresh recency for the LRU bound.
      this.memory.delete(id);
      this.memory.set(id, hit);
    }
    return hit;
  }

  async set(key: CacheKey, value: Float32Array): Promise<void> {
    const id = EmbeddingCache.keyOf(key);
    const copy = Float32Array.from(value);
    this.remember(id, copy);
    if (this.options.dir !== null) {
      const folder = join(this.options.dir, id.slice(0, 2));
      await mkdir(folder, { recursive: true });
      // Write then rename: a reader never sees half a file.
      const tmp = join(folder, `${id}.${process.pid}.${Date.now()}.tmp`);
      await writeFile(tmp, Buffer.from(copy.buffer));
      await rename(tmp, join(folder, `${id}.f32`));
    }
  }

  get size(): number {
    return this.memory.size;
  }

  private remember(id: string, value: Float32Array): void {
    this.memory.set(id, value);
    while (this.memory.size > this.options.maxEntries) {
      const oldest = this.memory.keys().next().value as string;
      this.memory.delete(oldest);
    }
  }
}
