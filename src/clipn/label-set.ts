/**
 * Label sets: what operators classify against. Validated once when they arrive (from a file,
 * the CLI or the label-set topic), with errors naming the field.
 */
import { z } from 'zod';
import { ClipnError } from '../errors.js';

/** The routing rules a label set may name. */
export const ROUTING_RULES = ['ctw', 'atd', 'both', 'either', 'calibrated'] as const;
export type RoutingRule = (typeof ROUTING_RULES)[number];
const logOdds = z.number().finite();

const labelSetSchema = z
  .object({
    id: z.string().trim().min(1).max(200),
    version: z.number().int().nonnegative().default(1),
    labels: z
      .array(z.string().trim().min(1, 'a label must not be blank').max(200))
      .min(1, 'at least one label is needed')
      .max(20000)
      .refine((l) => new Set(l).size === l.length, 'labels must be unique'),
    templates: z
      .array(z.string().refine((t) => t.includes('{}'), 'each template must contain {}'))
      .min(1)
      .nullish(),
    routing: z.object({ rule: z.enum(ROUTING_RULES) }).default({ rule: 'atd' }),
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

/** Validates anything into a frozen LabelSet, or throws LABEL_SET_INVALID naming each bad field. */
export function parseLabelSet(value: unknown, source = 'label set'): LabelSet {
  const parsed = labelSetSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ClipnError('LABEL_SET_INVALID', `${source}: ${issues}`, { details: { issues: parsed.error.issues.map((i) => i.path.join('.')) } });
  }
  return Object.freeze(parsed.data);
}

/** Python str.format with one positional `{}` (templates are formatted as is, quotes included). */
export function formatTemplate(template: string, label: string): string {
  return template.replace(/\{\{|\}\}|\{\}/g, (m) => (m === '{}' ? label : m[0]!));
}
