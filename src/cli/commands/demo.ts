/**
 * `clipn demo`: the local broker, the sidecar on the demo model, and a producer of demo-world
 * images (ID, OOD and some corrupt ones), with a live summary. Ctrl-C stops everything. With
 * --label-studio, the review queue goes to a local Label Studio (the label-studio plugin).
 */
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as pace } from 'node:timers/promises';
import { labelSetRecord, parseLabelSet } from '../../clipn/index.js';
import { createCodec } from '../../codec/index.js';
import { createKafka } from '../../kafka/index.js';
import { Sidecar } from '../../service/sidecar.js';
import { bundledLabelStudioModule, startLocalLabelStudio } from '../shared/label-studio.js';
import { packageRoot } from '../../package-root.js';
import { runtime } from '../shared/runtime.js';

function demoInputs(root: string, n: number): Array<{ id: string; value: Buffer; kind: string }> {
  const files: Array<{ path: string; kind: string }> = [];
  for (const split of ['id', 'ood']) {
    const base = join(root, 'models', 'demo-heldout', split);
    for (const cls of readdirSync(base).sort()) for (const f of readdirSync(join(base, cls)).sort()) files.push({ path: join(base, cls, f), kind: `${split}:${cls}` });
  }
  return Array.from({ length: n }, (_, i) => {
    const f = files[(i * 37) % files.length]!;
    const bytes = readFileSync(f.path);
    if (i % 20 === 19) return { id: `demo-${i}`, value: bytes.subarray(0, bytes.length >> 2), kind: 'corrupt' };
    return { id: `demo-${i}`, value: bytes, kind: f.kind };
  });
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('local broker + sidecar on the demo model + a producer of demo images, with a live summary')
    .option('--max-images <n>', 'stop after this many images (default: run until Ctrl-C)')
    .option('--rate <n>', 'images produced per second', '20')
    .option('--label-studio', 'review items become tasks in a local Label Studio (scripts/label-studio.sh), annotations become decisions')
    .action(async (flags: { maxImages?: string; rate?: string; labelStudio?: boolean }) => {
      const stamp = Date.now().toString(36);
      const topics = { input: `demo.${stamp}.images`, results: `demo.${stamp}.results`, review: `demo.${stamp}.review`, deadLetter: `demo.${stamp}.dlq` };
      const ls = flags.labelStudio ? startLocalLabelStudio(packageRoot()) : null;
      if (ls) process.env.CLIPN_DEMO_LABEL_STUDIO_TOKEN = ls.token;
      const { config, logger, root } = runtime({}, {
        kafka: { groupId: `clipn-demo-${stamp}`, topics: { ...topics, input: [topics.input], labelSets: 'demo.label-sets', modelReleases: 'demo.model-releases', reviewDecisions: `demo.${stamp}.decisions` } },
        telemetry: { logLevel: 'warn', http: { port: 0 } },
        // Label Studio shows inline images; demo item ids repeat across runs, so each run has its own project.
        processing: { review: { image: ls ? 'inline' : 'reference' } },
        ...(ls && {
          plugins: {
            modules: [
              {
                module: bundledLabelStudioModule(),
                options: { url: ls.url, tokenEnv: 'CLIPN_DEMO_LABEL_STUDIO_TOKEN', projectTitle: `CLIPN demo ${stamp}: {labelSet}`, webhook: { host: '127.0.0.1', port: 0 }, pollIntervalMs: 5000 },
              },
            ],
          },
        }),
      });
      process.stdout.write('starting the local Kafka broker (scripts/kafka.sh start)\n');
      execFileSync('bash', [join(root, 'scripts', 'kafka.sh'), 'start'], { stdio: 'inherit' });
      const codec = createCodec({ registryUrl: null });
      const kafka = createKafka(config.kafka);
      const producer = kafka.producer();
      await producer.connect();
      // The demo model's own label set: calibrated on ID images of the demo world (never the held-out ones shown here).
      const shipped = parseLabelSet(JSON.parse(readFileSync(join(root, 'models', 'demo', 'labels.json'), 'utf8')), 'models/demo/labels.json');
      const labelSet = parseLabelSet({ ...shipped, id: config.processing.defaultLabelSet, version: Date.now(), description: 'demo' });
      await producer.send({ topic: config.kafka.topics.labelSets, messages: [{ key: labelSet.id, value: await codec.encode('LabelSet', labelSetRecord(labelSet)) }] });
      process.stdout.write(`label set ${labelSet.id}: ${labelSet.labels.join(', ')}; routing ${labelSet.routing.rule}${labelSet.thresholds?.atdLogOdds != null ? ` (ATD log-odds below ${labelSet.thresholds.atdLogOdds.toFixed(2)})` : ''}\n`);
      const sidecar = new Sidecar({ config, logger, root });
      await sidecar.start();
      if (ls) process.stdout.write(`review queue: Label Studio on ${ls.url} (project "CLIPN demo ${stamp}: ${labelSet.id}"; user ${ls.username}, password: scripts/label-studio.sh env); annotations go to ${config.kafka.topics.reviewDecisions}\n`);
      const max = flags.maxImages ? Number(flags.maxImages) : Infinity;
      const inputs = demoInputs(root, Number.isFinite(max) ? max : 100_000);
      const kinds = new Map(inputs.map((i) => [i.id, i.kind]));
      const summary = { results: 0, reviewed: 0, dead: 0, correct: 0, idSeen: 0, idReviewed: 0, oodFlagged: 0, oodSeen: 0, byClass: new Map<string, number>() };
      const watcher = kafka.consumer({ groupId: `clipn-demo-watch-${stamp}` });
      await watcher.connect();
      await watcher.subscribe({ topics: [topics.results, topics.deadLetter], fromBeginning: true });
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      await watcher.run({
        eachMessage: async ({ topic, message }) => {
          if (topic === topics.deadLetter) summary.dead++;
          else {
            const r = (await codec.decode(message.value!, 'TaggedImage')).value as { id: string; label: string; routed: boolean };
            summary.results++;
            if (r.routed) summary.reviewed++;
            summary.byClass.set(r.label, (summary.byClass.get(r.label) ?? 0) + 1);
            const kind = kinds.get(r.id) ?? '';
            if (kind.startsWith('id:')) (summary.idSeen++, kind === `id:${r.label}` && summary.correct++, r.routed && summary.idReviewed++);
            if (kind.startsWith('ood:')) (summary.oodSeen++, r.routed && summary.oodFlagged++);
          }
          if (summary.results + summary.dead >= max) done();
        },
      });
      const pct = (a: number, b: number): string => (b === 0 ? '-' : `${Math.round((100 * a) / b)}%`);
      const print = (): void => {
        const classes = [...summary.byClass].map(([k, v]) => `${k} ${v}`).join(', ');
        process.stdout.write(
          `results ${summary.results}: ID correct ${summary.correct}/${summary.idSeen}; sent to review: OOD ${summary.oodFlagged}/${summary.oodSeen} (${pct(summary.oodFlagged, summary.oodSeen)}), ` +
            `ID ${summary.idReviewed}/${summary.idSeen} (${pct(summary.idReviewed, summary.idSeen)}); dead letters ${summary.dead} (the corrupt inputs) | ${classes}\n`,
        );
      };
      const ticker = setInterval(print, 2000);
      const stop = async (): Promise<void> => {
        clearInterval(ticker);
        print();
        await watcher.disconnect();
        await producer.disconnect();
        await sidecar.stop();
        process.stdout.write(`stopped (the broker keeps running: scripts/kafka.sh stop${ls ? '; Label Studio too: scripts/label-studio.sh stop' : ''})\n`);
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      const rate = Math.max(1, Number(flags.rate ?? 20));
      for (let i = 0; i < inputs.length && summary.results + summary.dead < max; i += rate) {
        await producer.send({ topic: topics.input, messages: inputs.slice(i, i + rate).map((m) => ({ key: m.id, value: m.value, headers: { 'clipn-id': m.id } })) });
        // Produce `rate` images a second, so the summary shows the stream flowing.
        if (i + rate < inputs.length) await Promise.race([finished, pace(1000)]);
      }
      await finished;
      await stop();
    });
}
