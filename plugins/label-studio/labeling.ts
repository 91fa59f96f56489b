/**
 * The pure part of the Label Studio plugin: the labelling configuration a label set becomes, the
 * task (data and prediction) a review item becomes, and the ReviewDecision an annotation becomes.
 * No I/O here: everything is a function of its arguments, tested in test/plugins/label-studio.
 */
import type { ReviewDecision, ReviewItem } from '../../src/codec/index.js';

/** Names of the tags of the labelling configuration (the annotation results refer to them). */
export const TAGS = {
  image: 'image',
  details: 'clipn',
  decision: 'decision',
  concept: 'concept',
  caption: 'caption',
  model: 'model_notes',
} as const;

/** The Choice for "none of the label set's labels", unless a label is already called that. */
export const NONE_OF_THESE = 'none of these';

/** Written into the labelling configuration (an XML comment) with the label set id and version it was made for. */
const MARKER = 'clipn label set';

/** The "none of these" value for a label set: NONE_OF_THESE, or it with a suffix when a label is already spelt that way. */
export function noneValue(labels: readonly string[]): string {
  const taken = new Set(labels.map((l) => l.trim().toLowerCase()));
  let value = NONE_OF_THESE;
  for (let n = 2; taken.has(value.toLowerCase()); n++) value = `${NONE_OF_THESE} (${n})`;
  return value;
}

/** XML text or attribute value, escaped. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/**
 * The labelling configuration for a label set: the image, a table of what the model said, one
 * single choice among the labels and "none of these", a concept name shown once "none of these"
 * is chosen, an optional caption, and the model's notes (filled by the prediction, read only).
 * Labels are XML-escaped; a label's text is its Choice's value, so an annotation names it as is.
 */
export function labelingConfig(labelSet: LabelSetRef): string {
  const labels = labelSet.labels;
  const none = noneValue(labels);
  const attr = xmlEscape;
  const choices = [...labels, none].map((l) => `    <Choice value="${attr(l)}"${l === none ? ' hint="None of the labels: name the new concept below if it is one"' : ''}/>`);
  return [
    '<View>',
    `  <!-- ${MARKER} ${encodeURIComponent(labelSet.id)} v${labelSet.version} -->`,
    `  <Image name="${TAGS.image}" value="$image" zoom="true" zoomControl="true" maxWidth="640px"/>`,
    '  <Header value="What the model said" size="5"/>',
    `  <Table name="${TAGS.details}" value="$clipn"/>`,
    '  <Header value="What is it?" size="5"/>',
    `  <Choices name="${TAGS.decision}" toName="${TAGS.image}" choice="single-radio" showInline="true" required="true">`,
    ...choices,
    '  </Choices>',
    `  <View visibleWhen="choice-selected" whenTagName="${TAGS.decision}" whenChoiceValue="${attr(none)}">`,
    '    <Header value="New concept (a short class name; leave empty if it is none of these and no new class)" size="6"/>',
    `    <TextArea name="${TAGS.concept}" toName="${TAGS.image}" maxSubmissions="1" rows="1" editable="true" placeholder="e.g. crescent"/>`,
    '  </View>',
    '  <Header value="Caption (optional; becomes a training text)" size="6"/>',
    `  <TextArea name="${TAGS.caption}" toName="${TAGS.image}" maxSubmissions="1" rows="2" editable="true" placeholder="a photo of ..."/>`,
    '  <Header value="Model notes (from the prediction; ignored in decisions)" size="6"/>',
    `  <TextArea name="${TAGS.model}" toName="${TAGS.image}" rows="3" editable="false"/>`,
    '</View>',
  ].join('\n');
}

/** A label set as review items carry it. */
export interface LabelSetRef {
  id: string;
  version: number;
  labels: readonly string[];
}

/** The label set id and version a labelling configuration of {@link labelingConfig} was made for, or null (another configuration). */
export function configVersion(xml: string): { id: string; version: number } | null {
  const m = new RegExp(`<!-- ${MARKER} (\\S+) v(\\d+) -->`).exec(xml);
  if (!m) return null;
  try {
    return { id: decodeURIComponent(m[1]!), version: Number(m[2]) };
  } catch {
    return null;
  }
}

/** The labels a labelling configuration of {@link labelingConfig} offers (the label set's, without "none of these"). */
export function labelsOfConfig(xml: string): string[] | null {
  const block = new RegExp(`<Choices[^>]*name="${TAGS.decision}"[^>]*>([\\s\\S]*?)</Choices>`).exec(xml);
  if (!block) return null;
  const values = [...block[1]!.matchAll(/<Choice\s+value="([^"]*)"/g)].map((m) => unescapeXml(m[1]!));
  const none = values.at(-1);
  return none !== undefined && none.startsWith(NONE_OF_THESE) ? values.slice(0, -1) : values;
}

function unescapeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!);
}

/** How a task shows an image that is not inline. */
export type ImageView = { kind: 'data-uri'; uri: string } | { kind: 'url'; url: string } | { kind: 'missing'; why: string };

/** What a review item's image becomes in a task: inline bytes a data URI, an http(s) reference its URL, anything else a placeholder. */
export function imageView(item: Pick<ReviewItem, 'image' | 'contentType'>, maxInlineBytes: number): ImageView {
  const image = item.image;
  if (image === null) return { kind: 'missing', why: 'the sidecar keeps no image in review items (processing.review.image: none)' };
  if (Buffer.isBuffer(image)) {
    if (image.length > maxInlineBytes) return { kind: 'missing', why: `the inline image has ${image.length} bytes, more than maxInlineBytes (${maxInlineBytes})` };
    return { kind: 'data-uri', uri: `data:${sniffType(image, item.contentType)};base64,${image.toString('base64')}` };
  }
  if (/^https?:\/\//i.test(image.uri)) return { kind: 'url', url: image.uri };
  return { kind: 'missing', why: `the image is a reference Label Studio cannot open (${image.uri}); set processing.review.image: inline` };
}

/** The image's media type: the item's when it names an image type, else from its first bytes. */
export function sniffType(bytes: Buffer, declared: string | null): string {
  if (declared && /^image\/[a-z0-9.+-]+$/i.test(declared.trim())) return declared.trim().toLowerCase();
  const starts = (...b: number[]): boolean => b.every((x, i) => bytes[i] === x);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (starts(0x42, 0x4d)) return 'image/bmp';
  return 'application/octet-stream';
}

/** A small SVG (as a data URI) saying why there is no image. */
export function placeholderImage(why: string): string {
  const lines = wrap(`No image to show: ${why}`, 48).slice(0, 6);
  const text = lines.map((l, i) => `<text x="16" y="${40 + i * 22}" font-family="sans-serif" font-size="15" fill="#333">${xmlEscape(l)}</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="${60 + lines.length * 22}"><rect width="100%" height="100%" fill="#eee"/>${text}</svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

function wrap(s: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      out.push(line);
      line = '';
    }
    line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) out.push(line);
  return out;
}

const fixed = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** One line of the model's scores: the probabilities and their log-odds. */
export function scoreLine(item: Pick<ReviewItem, 'scores' | 'ood'>): string {
  const s = item.scores;
  return `CTW ${fixed(s.ctw, 4)} (log-odds ${fixed(s.ctwLogOdds, 2)}${item.ood.ctw ? ', OOD' : ''}); ATD ${fixed(s.atd, 4)} (log-odds ${fixed(s.atdLogOdds, 2)}${item.ood.atd ? ', OOD' : ''})`;
}

/** The data of a task: what the labelling configuration shows, and the ids that link it back. */
export interface TaskData {
  image: string;
  /** Key-value pairs the Table tag shows. */
  clipn: Record<string, string>;
  item_id: string;
  label_set_id: string;
  label_set_version: number;
  predicted: string;
  prompt_version: string;
  model_version: string;
  ctw: number;
  atd: number;
  ctw_log_odds: number;
  atd_log_odds: number;
  reasons: string[];
  source: string;
  caption: string | null;
  created_at: string;
}

/** A prediction as Label Studio takes it. */
export interface Prediction {
  model_version: string;
  score: number;
  result: Array<Record<string, unknown>>;
}

/** A review item as a task: its data and its prediction (model_version = the serving release, i.e. the prompt version). */
export function taskOf(item: ReviewItem, maxInlineBytes: number): { data: TaskData; predictions: Prediction[] } {
  const view = imageView(item, maxInlineBytes);
  const image = view.kind === 'data-uri' ? view.uri : view.kind === 'url' ? view.url : placeholderImage(view.why);
  const top = item.top.slice(0, 3).map((t) => `${t.label} ${fixed(t.p, 3)}`).join(', ');
  const clipn: Record<string, string> = {
    'predicted class': item.label,
    scores: scoreLine(item),
    'routed by': `${item.rule}: ${item.reasons.join('; ') || '(no reason given)'}`,
    'best classes (p)': top || item.label,
    release: `${item.model.promptVersion} (model ${item.model.version})`,
    'label set': `${item.labelSet.id} v${item.labelSet.version}`,
    item: item.id,
  };
  if (item.caption) clipn.caption = item.caption;
  if (view.kind === 'missing') clipn.image = view.why;
  const data: TaskData = {
    image,
    clipn,
    item_id: item.id,
    label_set_id: item.labelSet.id,
    label_set_version: item.labelSet.version,
    predicted: item.label,
    prompt_version: item.model.promptVersion,
    model_version: item.model.version,
    ctw: item.scores.ctw,
    atd: item.scores.atd,
    ctw_log_odds: item.scores.ctwLogOdds,
    atd_log_odds: item.scores.atdLogOdds,
    reasons: [...item.reasons],
    source: `${item.source.topic}/${item.source.partition}/${item.source.offset}`,
    caption: item.caption,
    created_at: new Date(item.createdAt).toISOString(),
  };
  const notes = `${scoreLine(item)}\nrouted by ${item.rule}: ${item.reasons.join('; ') || '(no reason given)'}`;
  const p = item.top.find((t) => t.label === item.label)?.p;
  const prediction: Prediction = {
    model_version: item.model.promptVersion,
    // Sorting tasks by prediction score puts the least in-distribution (lowest CTW) first.
    score: finiteOr(item.scores.ctw, 0),
    result: [
      { id: 'clipn-class', from_name: TAGS.decision, to_name: TAGS.image, type: 'choices', value: { choices: [item.label] }, ...(p === undefined ? {} : { score: finiteOr(p, 0) }) },
      { id: 'clipn-notes', from_name: TAGS.model, to_name: TAGS.image, type: 'textarea', value: { text: [notes] } },
    ],
  };
  return { data, predictions: [prediction] };
}

const finiteOr = (x: number, fallback: number): number => (Number.isFinite(x) ? x : fallback);

/** The part of an annotation the mapping reads. */
export interface AnnotationLike {
  id?: number;
  result?: unknown;
  was_cancelled?: boolean;
  completed_by?: unknown;
  created_username?: string;
  updated_at?: string | null;
  created_at?: string | null;
}

/** What an annotation means for a review item, or why it means nothing. */
export type Mapped = { decision: ReviewDecision } | { skip: string };

/**
 * The ReviewDecision an annotation of a task makes: a label chosen = is_class with that label;
 * "none of these" with a concept = new_concept (the concept, and the caption if any); "none of
 * these" without a concept but with a caption = new_concept with no name (the caption is its
 * text); "none of these" alone = none_of_labels. A skipped (cancelled) annotation, or one with no
 * choice, makes none. decidedAt is the annotation's last change, so a re-read annotation makes
 * the same decision and a changed one a later decision.
 */
export function decisionOf(itemId: string, labels: readonly string[], annotation: AnnotationLike, reviewer: string | null, now: () => number = Date.now): Mapped {
  if (annotation.was_cancelled) return { skip: 'the annotation was skipped' };
  const results = Array.isArray(annotation.result) ? (annotation.result as Array<Record<string, unknown>>) : [];
  const of = (name: string) => results.find((r) => r && r.from_name === name)?.value as Record<string, unknown> | undefined;
  const choices = of(TAGS.decision)?.choices;
  const choice = Array.isArray(choices) && typeof choices[0] === 'string' ? choices[0] : null;
  if (choice === null) return { skip: 'the annotation chose nothing' };
  const text = (name: string): string | null => {
    const t = of(name)?.text;
    const joined = (Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string').join(' ') : typeof t === 'string' ? t : '').trim();
    return joined.length > 0 ? joined : null;
  };
  const caption = text(TAGS.caption);
  const decidedAt = parseTime(annotation.updated_at) ?? parseTime(annotation.created_at) ?? now();
  const base = { itemId, caption, reviewer, decidedAt };
  if (choice === noneValue(labels) || (choice.startsWith(NONE_OF_THESE) && !labels.includes(choice))) {
    const concept = text(TAGS.concept);
    if (concept !== null) return { decision: { ...base, decision: 'new_concept', label: null, concept } };
    if (caption !== null) return { decision: { ...base, decision: 'new_concept', label: null, concept: null } };
    return { decision: { ...base, decision: 'none_of_labels', label: null, concept: null } };
  }
  // A label of this label set, or one an earlier version of the configuration offered: its name is the label.
  return { decision: { ...base, decision: 'is_class', label: choice, concept: null } };
}

function parseTime(s: string | null | undefined): number | null {
  if (typeof s !== 'string') return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}
