/**
 * The plugin API (version PLUGIN_API_VERSION): a plugin module's default export is a
 * {@link ClipnPlugin}; see docs/plugins.md. The host and the built-in plugin are here too.
 */
export {
  PLUGIN_API_VERSION,
  definePlugin,
  type ClipnPlugin,
  type PluginContext,
  type PluginParts,
  type PluginRecord,
  type ImageSourcePlugin,
  type RoutingRulePlugin,
  type RoutingDecision,
  type RuleInput,
  type ReviewSinkPlugin,
  type ResultHookPlugin,
  type ResultAddition,
  type RecordMeta,
} from './types.js';
export { PluginHost, asPlugin, sendPluginRecords, type PluginHostDeps } from './host.js';
export { BUILTIN_PLUGIN, type BuiltinOptions } from './builtin.js';
export { decideBuiltin, builtinRule, type RoutableScore } from './routing-rules.js';
