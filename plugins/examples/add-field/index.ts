/**
 * The smallest useful plugin: a result hook that adds fixed metadata to every TaggedImage (for
 * example the pipeline stage or the cluster that tagged it). Loaded from its path:
 *   plugins: { modules: [{ module: './plugins/examples/add-field/index.ts', options: { fields: { stage: 'ingest' } } }] }
 */
import { z } from 'zod';
import type { ClipnPlugin } from '../../../src/plugin/index.js';

const options = z.strictObject({
  /** Metadata keys and values to add to every result. */
  fields: z.record(z.string().min(1), z.string()).refine((f) => Object.keys(f).length > 0, 'at least one field'),
  /** Also add the label of the best class under this key (none: not added). */
  labelKey: z.string().min(1).optional(),
});

const plugin: ClipnPlugin<z.output<typeof options>> = {
  name: 'add-field',
  apiVersion: 1,
  options,
  create({ options: o, logger }) {
    logger.info({ fields: Object.keys(o.fields) }, 'adding metadata to every result');
    return {
      resultHooks: [
        {
          async onResult(result) {
            return { metadata: { ...o.fields, ...(o.labelKey ? { [o.labelKey]: result.label } : {}) } };
          },
        },
      ],
    };
  },
};

export default plugin;
