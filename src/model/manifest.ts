/** The bundle manifest (docs/bundle-format.md), validated with one schema compiled at load. */
import { z } from 'zod';

const tensorSpec = z.object({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'int64']),
  shape: z.array(z.union([z.number().int().positive(), z.string().min(1)])),
});

const graphSpec = z.object({
  file: z.string().min(1),
  inputs: z.array(tensorSpec).min(1),
  outputs: z.array(tensorSpec).min(1),
});

const fileEntry = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() });

export const manifestSchema = z.object({
  format: z.literal('clipn-bundle'),
  formatVersion: z.literal(1),
  name: z.string().min(1),
  modelVersion: z.string().min(1),
  createdAt: z.string().optional(),
  precision: z.enum(['fp32', 'fp16', 'int8']).default('fp32'),
  architecture: z.object({
    name: z.string(),
    embedDim: z.number().int().positive(),
    textWidth: z.number().int().positive(),
    config: z.record(z.string(), z.unknown()).optional(),
  }),
  preprocess: z.object({
    imageSize: z.number().int().positive(),
    resize: z.literal('shortest-side'),
    interpolation: z.literal('bicubic'),
    crop: z.literal('center'),
    alpha: z.literal('flatten-white').default('flatten-white'),
    mean: z.tuple([z.number(), z.number(), z.number()]),
    std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  }),
  tokenizer: z.object({
    file: z.string().min(1),
    contextLength: z.number().int().positive(),
    sotTokenId: z.number().int().nonnegative(),
    eotTokenId: z.number().int().nonnegative(),
    vocabSize: z.number().int().positive(),
  }),
  scoring: z.object({ logitScale: z.number().positive() }),
  prompt: z.object({
    file: z.string().min(1),
    dtype: z.literal('float32'),
    shape: z.tuple([z.number().int().positive(), z.number().int().positive()]),
    version: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  graphs: z.object({ image: graphSpec, text: graphSpec, textNo: graphSpec }),
  templates: z.object({ file: z.string().min(1) }).optional(),
  files: z.record(z.string(), fileEntry),
  source: z.object({ checkpoint: z.string().optional(), sha256: z.string().optional() }).optional(),
});

/** A validated manifest. */
export type Manifest = z.infer<typeof manifestSchema>;
/** One graph of a manifest. */
export type GraphSpec = z.infer<typeof graphSpec>;
