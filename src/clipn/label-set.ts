/**
 * Label sets: what operators classify against. Validated once when they arrive (from a file,
 * the CLI or the label-set topic), with errors naming the field.
 */
import { z } from 'zod';
import type { LabelSet as LabelSetRecord } from '../codec/index.js';
import { ClipnError } from '../errors.js';

/** The built-in routing rules (plugins can add more). */
export const ROUTING_RULES = ['ctw', 'atd', 'both', 'either', 'calibrated'] as const;
export type RoutingRule = (typeof ROUTING_RULES)[number];
const logOdds = z.number().finite();

const labelSetSchema = z
  .object({
    id: z.string().trim().min(1).max(200),
    version: z.number().int().nonnegative().default(1),
    labels: z
      .array(z.string().trim().min(1, 'a label must not be blank'))
      .min(1, 'at least one label is needed')
      .refine((l) => new Set(l).size === l.length, 'labels must be unique'),
    templates: z
      .array(z.string().refine((t) => t.includes('{}'), 'each template must contain {}'))
      .min(1)
      .nullish(),
    // A built-in rule (ROUTING_RULES) or one a plugin provides; the sidecar checks it exists.
    routing: z
      .object({
        rule: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'expected a rule name ([a-z0-9._-])'),
        params: z.record(z.string(), z.string()).default({}),
      })
      .default({ rule: 'atd', params: {} }),
    // Log-odds of the ID scores (clipn calibrate): the probabilities saturate at 1 and cannot separate.
    thresholds: z.preprocess(
      (t, ctx) => {
        // Probability thresholds (the fields' old names) would saturate; say what replaced them.
        for (const old of ['ctw', 'atd'] as const) {
          if (t !== null && typeof t === 'object' && Object.hasOwn(t, old)) {
            ctx.addIssue({ code: 'custom', path: [old], input: t, message: `expected ${old}LogOdds (log-odds from clipn calibrate), got a probability threshold "${old}"` });
          }
        }
        return t;
      },
      z.object({ ctwLogOdds: logOdds.nullish(), atdLogOdds: logOdds.nullish() }).nullish(),
    ),
    description: z.string().nullish(),
  })
  .superRefine((v, ctx) => {
    if (v.routing.rule === 'calibrated' && v.thresholds?.ctwLogOdds == null && v.thresholds?.atdLogOdds == null) {
      ctx.addIssue({ code: 'custom', path: ['thresholds'], message: 'routing rule "calibrated" needs thresholds.ctwLogOdds or thresholds.atdLogOdds (run clipn calibrate)' });
    }
  });

/** A validated label set. */
export type LabelSet = Readonly<z.infer<typeof labelSetSchema>>;

/**
 * Caps on what one label set may cost (processing.labelSets): every text is two text-tower runs
 * and a cache entry, so a label set from a topic others write is bounded before it is encoded.
 */
export interface LabelSetCaps {
  maxLabels: number;
  maxTemplates: number;
  /** labels x templates. */
  maxTexts: number;
  /** Longest label or template, in characters. */
  maxTextChars: number;
}

/** The defaults of processing.labelSets. */
export const DEFAULT_LABEL_SET_CAPS: Readonly<LabelSetCaps> = Object.freeze({ maxLabels: 5000, maxTemplates: 100, maxTexts: 100_000, maxTextChars: 300 });

function capIssues(ls: z.infer<typeof labelSetSchema>, caps: LabelSetCaps, templatesWhenNone: number): string[] {
  const issues: string[] = [];
  const cap = (name: keyof LabelSetCaps) => `the cap (processing.labelSets.${name}) is ${caps[name]}`;
  if (ls.labels.length > caps.maxLabels) issues.push(`labels: ${ls.labels.length} labels, ${cap('maxLabels')}`);
  const templates = ls.templates ?? [];
  if (templates.length > caps.maxTemplates) issues.push(`templates: ${templates.length} templates, ${cap('maxTemplates')}`);
  const texts = ls.labels.length * (ls.templates ? templates.length : templatesWhenNone);
  if (texts > caps.maxTexts) issues.push(`labels x templates: ${texts} texts, ${cap('maxTexts')}`);
  const long = (list: readonly string[], field: string) => {
    const i = list.findIndex((t) => t.length > caps.maxTextChars);
    if (i >= 0) issues.push(`${field}.${i}: ${list[i]!.length} characters, ${cap('maxTextChars')}`);
  };
  long(ls.labels, 'labels');
  long(templates, 'templates');
  return issues;
}

/** Options of {@link parseLabelSet}. */
export interface ParseLabelSetOptions {
  caps?: LabelSetCaps;
  /** Templates a label set without its own uses (the bundle's), for the labels x templates cap. */
  defaultTemplateCount?: number;
}

/** Validates anything into a frozen LabelSet, or throws LABEL_SET_INVALID naming each bad field or cap. */
export function parseLabelSet(value: unknown, source = 'label set', options: ParseLabelSetOptions = {}): LabelSet {
  const parsed = labelSetSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ClipnError('LABEL_SET_INVALID', `${source}: ${issues}`, { details: { issues: parsed.error.issues.map((i) => i.path.join('.')) } });
  }
  const over = capIssues(parsed.data, options.caps ?? DEFAULT_LABEL_SET_CAPS, options.defaultTemplateCount ?? 1);
  if (over.length > 0) throw new ClipnError('LABEL_SET_INVALID', `${source}: ${over.join('; ')}`, { details: { caps: over } });
  return Object.freeze(parsed.data);
}

/** Python str.format with one positional `{}` (templates are formatted as is, quotes included). */
export function formatTemplate(template: string, label: string): string {
  return template.replace(/\{\{|\}\}|\{\}/g, (m) => (m === '{}' ? label : m[0]!));
}

/** The LabelSet record (schemas/LabelSet.avsc) of a validated label set, stamped `updatedAt`. */
export function labelSetRecord(ls: LabelSet, updatedAt = Date.now()): LabelSetRecord {
  return {
    id: ls.id,
    version: ls.version,
    labels: [...ls.labels],
    templates: ls.templates ? [...ls.templates] : null,
    routing: { rule: ls.routing.rule, params: { ...ls.routing.params } },
    thresholds: ls.thresholds ? { ctwLogOdds: ls.thresholds.ctwLogOdds ?? null, atdLogOdds: ls.thresholds.atdLogOdds ?? null } : null,
    description: ls.description ?? null,
    updatedAt,
  };
}
