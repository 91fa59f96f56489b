/**
 * Label sets from the compacted label-set topic (key = id, value = Avro LabelSet, null = delete).
 * Each new version is validated (bounded decoding, the schema, the caps of
 * processing.labelSets, the key equal to the id), its heads built off the hot path (only texts
 * missing from the cache are encoded), then swapped in atomically. A bad record is refused,
 * logged and counted; the version already serving stays and the channel moves on.
 *
 * With trusted keys (trust.publicKeys) every record must be signed by one of them, versions must
 * increase (the same version again is ignored when only its updatedAt differs), and a label set is
 * deleted only by a signed record with `deleted` true: a tombstone carries nothing to sign and is
 * refused. The default label set is never deleted by a tombstone, with keys or without.
 */
import { createHash } from 'node:crypto';
import type { KafkaMessage } from '../kafka/index.js';
import { parseLabelSet, type LabelSet, type LabelSetCaps } from '../clipn/index.js';
import type { LabelSet as LabelSetRecord, RecordCodec } from '../codec/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import { signedBytes, verifyRecord, type TrustedKeys } from '../trust/index.js';
import type { Serial } from './serial.js';
import type { ServingState } from './serving-state.js';

/** How far the label-set channel trusts what it reads. */
export interface LabelSetPolicy {
  /** Trusted keys; null accepts unsigned records (no keys configured). */
  readonly keys: TrustedKeys | null;
  /** processing.defaultLabelSet: never deleted by a tombstone. */
  readonly defaultLabelSet: string | null;
}

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
export function labelSetHandler(
  codec: RecordCodec,
  state: ServingState,
  serial: Serial,
  events: WatcherEvents,
  caps: LabelSetCaps,
  checkRule: (ls: LabelSet) => string | null,
  policy: LabelSetPolicy = { keys: null, defaultLabelSet: null },
): (m: KafkaMessage) => Promise<void> {
  // Per id: the highest version applied or deleted, and the digest of that record (with keys only).
  const seen = new Map<string, { version: number; digest: string }>();
  return (message) =>
    serial.run(async () => {
      const key = message.key?.toString('utf8') ?? '';
      try {
        if (message.value === null || message.value.length === 0) {
          if (key === policy.defaultLabelSet) {
            throw new ClipnError('LABEL_SET_INVALID', `label set ${key}: a tombstone on the default label set (processing.defaultLabelSet) is refused: input naming no label set would all be dead-lettered; publish a new version instead`, { details: { reason: 'tombstone' } });
          }
          if (policy.keys !== null) {
            throw new ClipnError('SIGNATURE_INVALID', `label set ${key || '(no key)'}: a tombstone cannot be signed and is refused while trust.publicKeys is set: delete with a signed record (clipn labels delete --key)`, { details: { reason: 'tombstone' } });
          }
          state.removeLabelSet(key);
          events.removed('label-set', key);
          return;
        }
        const { value } = await codec.decode(message.value, 'LabelSet');
        const what = `label set ${value.id} version ${value.version}`;
        let digest = '';
        if (policy.keys !== null) {
          verifyRecord(codec, 'LabelSet', value, policy.keys, what);
          // The content without its time: the same label set put again (a chart upgrade) is no change.
          digest = createHash('sha256').update(signedBytes(codec, 'LabelSet', { ...value, updatedAt: 0 })).digest('hex');
        }
        // Compaction keeps the latest record per key: a record under another key could never be replaced by its id's owner.
        if (value.id !== key) throw new ClipnError('LABEL_SET_INVALID', `label set ${value.id}: the record key must equal its id, got key ${JSON.stringify(key)}`);
        if (policy.keys !== null && isReplay(value, digest, seen.get(value.id))) return;
        if (value.deleted) return deleteLabelSet(value, state, events, policy, seen, digest);
        const labelSet = parseLabelSet(value, `label set ${key || '(no key)'}`, { caps, defaultTemplateCount: state.current.classifier.defaultTemplates.length });
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
            if (policy.keys !== null) seen.set(labelSet.id, { version: labelSet.version, digest });
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

/**
 * With keys: true when the record is the one last applied (read again: nothing to do); throws
 * when its version is not above the last one applied or deleted, so a signed record produced
 * again later cannot bring an old version back.
 */
function isReplay(value: LabelSetRecord, digest: string, last: { version: number; digest: string } | undefined): boolean {
  if (last === undefined || value.version > last.version) return false;
  if (value.version === last.version && digest === last.digest) return true;
  throw new ClipnError('LABEL_SET_INVALID', `label set ${value.id} version ${value.version}: expected a version above ${last.version}, the last one applied (signed label sets only move forward)`, {
    details: { reason: 'stale', version: value.version, serving: last.version },
  });
}

/** A record with `deleted` true: refused for the default label set unless signed by a trusted key. */
function deleteLabelSet(value: LabelSetRecord, state: ServingState, events: WatcherEvents, policy: LabelSetPolicy, seen: Map<string, { version: number; digest: string }>, digest: string): void {
  if (value.id === policy.defaultLabelSet && policy.keys === null) {
    throw new ClipnError('LABEL_SET_INVALID', `label set ${value.id}: deleting the default label set needs a signed record (trust.publicKeys is not set)`, { details: { reason: 'delete-default' } });
  }
  const current = state.current.labelSets.get(value.id);
  if (policy.keys === null && current && current.labelSet.version > value.version) {
    throw new ClipnError('LABEL_SET_INVALID', `deletion version ${value.version} is older than the serving version ${current.labelSet.version}`, { details: { reason: 'stale' } });
  }
  if (policy.keys !== null) seen.set(value.id, { version: value.version, digest });
  if (current) {
    state.removeLabelSet(value.id);
    events.removed('label-set', value.id);
  }
}
