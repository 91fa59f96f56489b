/** CLIPN scoring: label sets, class heads, CTW/ATD scores, OOD metrics, the text-embedding cache. */
export { ClipnClassifier, type ClassifierOptions, type PreparedLabelSet } from './classifier.js';
export { parseLabelSet, labelSetRecord, formatTemplate, ROUTING_RULES, DEFAULT_LABEL_SET_CAPS, type LabelSet, type LabelSetCaps, type ParseLabelSetOptions, type RoutingRule } from './label-set.js';
export { scoreImages, rankingValue, SCORE_NAMES, type ScoreName, type Heads, type ImageScore, type TopClass, type Scores, type ScoreThresholds } from './scorer.js';
export { auroc, fprAtTpr, rocCurve, thresholdAtTpr } from './metrics.js';
export { EmbeddingCache, type CacheKey, type CacheStats } from './embedding-cache.js';
export { buildHeads, type HeadBuildStats } from './heads.js';
