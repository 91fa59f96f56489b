/**
 * Label sets from the compacted label-set topic (key = id, value = Avro LabelSet, null = delete).
 * Each new version is validated, its heads built off the hot path (only texts missing from the
 * cache are encoded), then swapped in atomically. An invalid record is refused and logged; the
 * version already serving stays.
 */
import type { KafkaMessage } from 'kafkajs';
import { parseLabelSet } from '../clipn/index.js';
import type { RecordCodec } from '../codec/index.js';
import { toClipnError } from '../errors.js';
import type { Serial } from './serial.js';
import type { ServingState } from './serving-state.js';

export interface WatcherEvents {
  applied(kind: 'label-set' | 'release', id: string, version: string, detail: Record<string, unknown>): void;
  refused(kind: 'label-set' | 'release', id: string, reason: string): void;
}

/** Builds the handler the label-set side channel applies, in order, through `serial`. */
export function labelSetHandler(codec: RecordCodec, state: ServingState, serial: Serial, events: WatcherEvents): (m: KafkaMessage) => Promise<void> {
  return (message) =>
    serial.run(async () => {
      const key = message.key?.toString('utf8') ?? '';
      if (message.value === null || message.value.length === 0) {
        state.removeLabelSet(key);
        events.applied('label-set', key, 'deleted', {});
        return;
      }
      try {
        const { value } = await codec.decode(message.value, 'LabelSet');
        const labelSet = parseLabelSet(value, `label set ${key || '(no key)'}`);
        const current = state.current.labelSets.get(labelSet.id);
        if (current && current.labelSet.version > labelSet.version) {
          events.refused('label-set', labelSet.id, `version ${labelSet.version} is older than the serving version ${current.labelSet.version}`);
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
        events.refused('label-set', key, toClipnError(error).message);
      }
    });
}
