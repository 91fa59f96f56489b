/**
 * What the sidecar provides itself, written on the plugin API: image sources for http, https and
 * file URIs (limits, the private-address guard, the file root), the CLIPN routing rules, and the
 * review-topic sink.
 */
import { z } from 'zod';
import { ROUTING_RULES } from '../clipn/index.js';
import { resolveImage } from '../images/index.js';
import { builtinRule } from './routing-rules.js';
import { definePlugin, PLUGIN_API_VERSION, type ClipnPlugin, type ImageSourcePlugin, type RoutingRulePlugin } from './types.js';

/** The name the built-in parts are registered under. */
export const BUILTIN_PLUGIN = 'clipn';

/** Host facts the built-in review sink needs: the review topic's record size limit. */
export interface BuiltinOptions {
  reviewLimit: (bytes: number) => boolean;
}

export function builtinPlugin(host: BuiltinOptions): ClipnPlugin<Record<string, never>> {
  return definePlugin({
    name: BUILTIN_PLUGIN,
    apiVersion: PLUGIN_API_VERSION,
    options: z.strictObject({}),
    create(ctx) {
      const images = ctx.config.images;
      const source: ImageSourcePlugin = {
        resolve: async (uri, { signal }) => resolveImage({ kind: 'uri', uri: uri.href }, images, { signal }),
      };
      const routingRules: Record<string, RoutingRulePlugin> = {};
      for (const rule of ROUTING_RULES) routingRules[rule] = builtinRule(rule);
      const topic = ctx.config.kafka.topics.review;
      return {
        sources: { http: source, https: source, file: source },
        routingRules,
        reviewSinks: [
          {
            async deliver(item, meta) {
              let value = await ctx.encode('ReviewItem', item);
              // An inline image too large for the review topic travels as a reference to the input.
              if (Buffer.isBuffer(item.image) && !host.reviewLimit(value.length)) {
                value = await ctx.encode('ReviewItem', { ...item, image: { uri: `kafka://${item.source.topic}/${item.source.partition}/${item.source.offset}` } });
              }
              return [{ topic, key: meta.key, value, headers: meta.headers }];
            },
          },
        ],
      };
    },
  });
}
