/**
 * Label sets from the compacted label-set topic (key = id, value = Avro LabelSet, null = delete).
 * Each new version is validated (bounded decoding, the schema, the caps of
 * processing.labelSets, the key equal to the id), its heads built off the hot path (only texts
 * missing from the cache are encoded), then swapped in atomically. A bad record is refused,
 * logged and counted; the version already serving stays and the channel moves on.
 */
import type { KafkaMessage } from '../kafka/index.js';
import { parseLabelSet, type LabelSet, type LabelSetCaps } from '../clipn/index.js';
import type { RecordCodec } from '../codec/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import type { Serial } from './serial.js';
import type { ServingState } from './serving-state.js';

/** What the side channels report (logs and metrics). */
export interface WatcherEvents {
  applied(kind: 'label-set' | 'release', id: string, version: string, detail: Record<string, unknown>): void;
  removed(kind: 'label-set', id: string): void;
  refused(kind: 'label-set' | 'release', id: string, error: ClipnError): void;
}

/**
 * Builds the handler the label-set side channel applies, in order, through `serial`; `checkRule`
 * says what is wrong with a label set's routing rule (unknown, bad parameters), or null.
 */
export function labelSetHandler(codec: RecordCodec, state: ServingState, serial: Serial, events: WatcherEvents, caps: LabelSetCaps, checkRule: (ls: LabelSet) => string | null): (m: KafkaMessage) => Promise<void> {
  return (message) =>
    serial.run(async () => {
      const key = message.key?.toString('utf8') ?? '';
      if (message.value === null || message.value.length === 0) {
        state.removeLabelSet(key);
        events.removed('label-set', key);
        return;
      }
      try {
        const { value } = await codec.decode(message.value, 'LabelSet');
        const labelSet = parseLabelSet(value, `label set ${key || '(no key)'}`, { caps, defaultTemplateCount: state.current.classifier.defaultTemplates.length });
        // Compaction keeps the latest record per key: a record under another key could never be replaced by its id's owner.
        if (labelSet.id !== key) throw new ClipnError('LABEL_SET_INVALID', `label set ${labelSet.id}: the record key must equal its id, got key ${JSON.stringify(key)}`);
        const ruleProblem = checkRule(labelSet);
        if (ruleProblem !== null) throw new ClipnError('LABEL_SET_INVALID', `label set ${labelSet.id}: ${ruleProblem}`);
        const current = state.current.labelSets.get(labelSet.id);
        if (current && current.labelSet.version > labelSet.version) {
          events.refused('label-set', labelSet.id, new ClipnError('LABEL_SET_INVALID', `version ${labelSet.version} is older than the serving version ${current.labelSet.version}`, { details: { reason: 'stale' } }));
          return;
        }
        const started = performance.now();
        // Prepared against whatever classifier serves when it is put (a release may swap it).
        for (;;) {
          const prepared = await state.current.classifier.prepare(labelSet);
          if (state.putLabelSet(prepared)) {
            events.applied('label-set', labelSet.id, String(labelSet.version), {
              labels: labelSet.labels.length,
              encodedTexts: prepared.stats.encodedYes + prepared.stats.encodedNo,
              ms: Math.round(performance.now() - started),
            });
            return;
          }
        }
      } catch (error) {
        events.refused('label-set', key, toClipnError(error));
      }
    });
}
