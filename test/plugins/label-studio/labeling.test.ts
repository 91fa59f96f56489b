/** The label-studio plugin's pure logic: labelling configuration, tasks and predictions, annotation -> decision. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReviewItem } from '../../../src/codec/index.js';
import {
  configVersion,
  decisionOf,
  imageView,
  labelingConfig,
  labelsOfConfig,
  NONE_OF_THESE,
  noneValue,
  placeholderImage,
  scoreLine,
  sniffType,
  TAGS,
  taskOf,
  xmlEscape,
} from '../../../plugins/label-studio/labeling.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

function item(over: Partial<ReviewItem> = {}): ReviewItem {
  return {
    id: 'item-1',
    source: { topic: 'clipn.images', partition: 2, offset: 41 },
    label: 'circle',
    index: 0,
    scores: { ctw: 0.91, atd: 0.12, msp: 0.5, maxLogit: 3, energy: -3, ctwLogOdds: 2.3136, atdLogOdds: -1.9924 },
    ood: { ctw: false, atd: true },
    rule: 'atd',
    reasons: ['ATD log-odds -1.99 below 0.00'],
    top: [
      { label: 'circle', index: 0, p: 0.62, pYes: 0.7 },
      { label: 'ring', index: 5, p: 0.2, pYes: 0.3 },
    ],
    imageEmbedding: [0.1, 0.2],
    image: PNG,
    contentType: 'image/png',
    caption: null,
    labelSet: { id: 'default', version: 3, labels: ['circle', 'square', 'ring'] },
    model: { version: 'demo@1234abcd', promptVersion: 'demo@1234abcd/p2' },
    metadata: {},
    createdAt: Date.UTC(2026, 0, 2, 3, 4, 5),
    ...over,
  };
}

test('the labelling configuration offers the labels, then "none of these", a concept shown only for it, a caption and the model notes', () => {
  const xml = labelingConfig({ id: 'default', version: 3, labels: ['circle', 'square'] });
  assert.match(xml, /^<View>/);
  assert.match(xml, /<Image name="image" value="\$image"/);
  assert.match(xml, /<Table name="clipn" value="\$clipn"\/>/);
  const choices = [...xml.matchAll(/<Choice value="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(choices, ['circle', 'square', NONE_OF_THESE]);
  assert.match(xml, new RegExp(`<Choices name="${TAGS.decision}" toName="${TAGS.image}" choice="single-radio"[^>]*required="true"`));
  assert.match(xml, new RegExp(`<View visibleWhen="choice-selected" whenTagName="${TAGS.decision}" whenChoiceValue="${NONE_OF_THESE}">[\\s\\S]*<TextArea name="${TAGS.concept}"[\\s\\S]*</View>`));
  assert.match(xml, new RegExp(`<TextArea name="${TAGS.caption}" toName="image"`));
  assert.match(xml, new RegExp(`<TextArea name="${TAGS.model}" toName="image"[^>]*editable="false"`));
  // Every opened tag is closed (a well-formed document).
  const open = [...xml.matchAll(/<(View|Choices)\b/g)].length;
  const close = [...xml.matchAll(/<\/(View|Choices)>/g)].length;
  assert.equal(open, close);
});

test('labels are XML-escaped and read back as they were; the configuration names the label set and version', () => {
  const labels = ['a & b', 'x<y>', 'say "hi"', "it's", 'price $5'];
  const xml = labelingConfig({ id: 'tools/v2 set', version: 17, labels });
  assert.ok(!xml.includes('a & b'), 'raw ampersand escaped');
  assert.match(xml, /<Choice value="a &amp; b"\/>/);
  assert.deepEqual(labelsOfConfig(xml), labels);
  assert.deepEqual(configVersion(xml), { id: 'tools/v2 set', version: 17 });
  assert.equal(configVersion('<View><Image name="image" value="$image"/></View>'), null);
  assert.equal(labelsOfConfig('<View/>'), null);
  assert.equal(xmlEscape(`<&>"'`), '&lt;&amp;&gt;&quot;&apos;');
});

test('"none of these" does not collide with a label spelt the same way', () => {
  assert.equal(noneValue(['circle']), NONE_OF_THESE);
  assert.equal(noneValue(['None of these']), `${NONE_OF_THESE} (2)`);
  assert.equal(noneValue(['none of these', 'none of these (2)']), `${NONE_OF_THESE} (3)`);
  const labels = ['none of these', 'square'];
  const xml = labelingConfig({ id: 'x', version: 1, labels });
  assert.deepEqual(labelsOfConfig(xml), labels);
  assert.match(xml, /whenChoiceValue="none of these \(2\)"/);
});

test('a task shows the inline image as a data URI, and a prediction with the serving release, the class, the scores and the reasons', () => {
  const { data, predictions } = taskOf(item(), 1 << 20);
  assert.equal(data.image, `data:image/png;base64,${PNG.toString('base64')}`);
  assert.equal(data.item_id, 'item-1');
  assert.equal(data.label_set_id, 'default');
  assert.equal(data.label_set_version, 3);
  assert.equal(data.predicted, 'circle');
  assert.equal(data.prompt_version, 'demo@1234abcd/p2');
  assert.equal(data.ctw_log_odds, 2.3136);
  assert.equal(data.atd, 0.12);
  assert.equal(data.source, 'clipn.images/2/41');
  assert.equal(data.created_at, '2026-01-02T03:04:05.000Z');
  assert.equal(data.clipn['predicted class'], 'circle');
  assert.equal(data.clipn.scores, 'CTW 0.9100 (log-odds 2.31); ATD 0.1200 (log-odds -1.99, OOD)');
  assert.equal(data.clipn['routed by'], 'atd: ATD log-odds -1.99 below 0.00');
  assert.equal(data.clipn['best classes (p)'], 'circle 0.620, ring 0.200');
  assert.equal(predictions.length, 1);
  const p = predictions[0]!;
  assert.equal(p.model_version, 'demo@1234abcd/p2');
  assert.equal(p.score, 0.91);
  assert.deepEqual(p.result[0], { id: 'clipn-class', from_name: 'decision', to_name: 'image', type: 'choices', value: { choices: ['circle'] }, score: 0.62 });
  assert.deepEqual(p.result[1], { id: 'clipn-notes', from_name: TAGS.model, to_name: 'image', type: 'textarea', value: { text: ['CTW 0.9100 (log-odds 2.31); ATD 0.1200 (log-odds -1.99, OOD)\nrouted by atd: ATD log-odds -1.99 below 0.00'] } });
  // JSON-safe: Label Studio stores it as JSON.
  assert.deepEqual(JSON.parse(JSON.stringify({ data, predictions })), { data, predictions });
});

test('images Label Studio cannot show become a placeholder saying why; http(s) references are shown by URL', () => {
  assert.deepEqual(imageView(item({ image: { uri: 'https://img.example/a.png' } }), 10), { kind: 'url', url: 'https://img.example/a.png' });
  const kafkaRef = imageView(item({ image: { uri: 'kafka://clipn.images/0/12' } }), 10);
  assert.equal(kafkaRef.kind, 'missing');
  assert.match((kafkaRef as { why: string }).why, /processing\.review\.image: inline/);
  assert.equal(imageView(item({ image: null }), 10).kind, 'missing');
  assert.match((imageView(item(), 4) as { why: string }).why, /more than maxInlineBytes \(4\)/);
  const { data } = taskOf(item({ image: { uri: 'kafka://clipn.images/0/12' } }), 1 << 20);
  assert.match(data.image, /^data:image\/svg\+xml;base64,/);
  assert.match(Buffer.from(data.image.split(',')[1]!, 'base64').toString('utf8'), /No image to show: .*kafka:\/\/clipn\.images\/0\/12/);
  assert.match(data.clipn.image!, /kafka:\/\//);
  assert.match(Buffer.from(placeholderImage('a <b> & c').split(',')[1]!, 'base64').toString(), /a &lt;b&gt; &amp; c/);
});

test('the media type comes from the item, else from the bytes', () => {
  assert.equal(sniffType(PNG, null), 'image/png');
  assert.equal(sniffType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]), null), 'image/jpeg');
  assert.equal(sniffType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '), null), 'image/webp');
  assert.equal(sniffType(Buffer.from('GIF89a'), 'application/octet-stream'), 'image/gif');
  assert.equal(sniffType(PNG, 'IMAGE/PNG '), 'image/png');
  assert.equal(sniffType(Buffer.from('hello'), null), 'application/octet-stream');
});

test('non-finite scores are written, not lost', () => {
  const line = scoreLine({ scores: { ...item().scores, ctwLogOdds: Infinity, atdLogOdds: -Infinity }, ood: { ctw: true, atd: false } });
  assert.equal(line, 'CTW 0.9100 (log-odds Infinity, OOD); ATD 0.1200 (log-odds -Infinity)');
  const { predictions } = taskOf(item({ scores: { ...item().scores, ctw: NaN } }), 1 << 20);
  assert.equal(predictions[0]!.score, 0);
});

const LABELS = ['circle', 'square', 'ring'];
const choose = (choice: string) => ({ from_name: TAGS.decision, to_name: TAGS.image, type: 'choices', value: { choices: [choice] } });
const text = (name: string, ...t: string[]) => ({ from_name: name, to_name: TAGS.image, type: 'textarea', value: { text: t } });
const at = '2026-03-04T05:06:07.123456Z';

test('a label chosen is an is_class decision with that label, the caption kept, decidedAt the annotation time', () => {
  const m = decisionOf('item-1', LABELS, { id: 9, result: [choose('square'), text(TAGS.caption, 'a red square'), text(TAGS.model, 'notes are ignored')], updated_at: at }, 'ann@example.com');
  assert.deepEqual(m, { decision: { itemId: 'item-1', decision: 'is_class', label: 'square', concept: null, caption: 'a red square', reviewer: 'ann@example.com', decidedAt: Date.parse(at) } });
});

test('"none of these" with a concept is new_concept; with only a caption new_concept unnamed; alone none_of_labels', () => {
  const concept = decisionOf('i', LABELS, { result: [choose(NONE_OF_THESE), text(TAGS.concept, '  crescent ')], updated_at: at }, null);
  assert.deepEqual(concept, { decision: { itemId: 'i', decision: 'new_concept', label: null, concept: 'crescent', caption: null, reviewer: null, decidedAt: Date.parse(at) } });
  const both = decisionOf('i', LABELS, { result: [choose(NONE_OF_THESE), text(TAGS.concept, 'crescent'), text(TAGS.caption, 'a yellow crescent', 'on blue')], updated_at: at }, null);
  assert.equal('decision' in both && both.decision.caption, 'a yellow crescent on blue');
  const captionOnly = decisionOf('i', LABELS, { result: [choose(NONE_OF_THESE), text(TAGS.caption, 'a crescent moon')], updated_at: at }, null);
  assert.deepEqual('decision' in captionOnly && [captionOnly.decision.decision, captionOnly.decision.concept, captionOnly.decision.caption], ['new_concept', null, 'a crescent moon']);
  const alone = decisionOf('i', LABELS, { result: [choose(NONE_OF_THESE), text(TAGS.concept, '   ')], updated_at: at }, null);
  assert.deepEqual('decision' in alone && [alone.decision.decision, alone.decision.concept, alone.decision.caption], ['none_of_labels', null, null]);
});

test('"none of these" is recognised with its suffix when a label took the plain name', () => {
  const labels = ['none of these', 'square'];
  const plain = decisionOf('i', labels, { result: [choose('none of these')], updated_at: at }, null);
  assert.deepEqual('decision' in plain && [plain.decision.decision, plain.decision.label], ['is_class', 'none of these']);
  const none = decisionOf('i', labels, { result: [choose('none of these (2)'), text(TAGS.concept, 'blob')], updated_at: at }, null);
  assert.deepEqual('decision' in none && [none.decision.decision, none.decision.concept], ['new_concept', 'blob']);
});

test('a skipped annotation, or one without a choice, makes no decision; a label of an older configuration is still a label', () => {
  assert.deepEqual(decisionOf('i', LABELS, { was_cancelled: true, result: [choose('square')] }, null), { skip: 'the annotation was skipped' });
  assert.deepEqual(decisionOf('i', LABELS, { result: [text(TAGS.caption, 'x')] }, null), { skip: 'the annotation chose nothing' });
  assert.deepEqual(decisionOf('i', LABELS, { result: 'garbage' }, null), { skip: 'the annotation chose nothing' });
  const old = decisionOf('i', LABELS, { result: [choose('star')], updated_at: at }, null);
  assert.deepEqual('decision' in old && [old.decision.decision, old.decision.label], ['is_class', 'star']);
});

test('decidedAt: updated_at, else created_at, else now; the same annotation version always maps to the same record', () => {
  const created = '2026-01-01T00:00:00Z';
  const a = decisionOf('i', LABELS, { result: [choose('ring')], created_at: created }, null, () => 5);
  assert.equal('decision' in a && a.decision.decidedAt, Date.parse(created));
  const b = decisionOf('i', LABELS, { result: [choose('ring')], updated_at: 'not a date' }, null, () => 5);
  assert.equal('decision' in b && b.decision.decidedAt, 5);
  const ann = { result: [choose('ring')], updated_at: at };
  assert.deepEqual(decisionOf('i', LABELS, ann, 'r'), decisionOf('i', LABELS, ann, 'r'));
});
