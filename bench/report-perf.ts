/** RESULTS.md sections for the graph-level work: fusion, text length, int8 methods, memory options. */
import type { MemoryRow, VariantRates } from './graph-variants.js';
import type { Machine } from './machine.js';
import type { Markdown } from './markdown.js';
import type { OpProfile } from './ort-profile.js';
import type { Int8Quality } from './report.js';
import { fmt, num } from './stats.js';
import type { TextLengthResults } from './text-length.js';

export interface PerfReport {
  fusion?: { rates: VariantRates; profiles: { unfused: OpProfile; fused: OpProfile }; fused: Record<string, unknown> | undefined };
  textLength?: TextLengthResults;
  int8Methods?: { rates: VariantRates; quality: Record<string, Int8Quality> };
  memory?: { rows: MemoryRow[]; runtimeBytes: number; model: string };
}

const pct = (a: number): string => `${num(a * 100, 3)}%`;
const pts = (a: number): string => `${num(a * 100, 2)} points`;

function ratioRows(rates: VariantRates, base: string): Array<Array<string | number>> {
  const names = Object.keys(rates);
  return Object.keys(rates[base]!).map((b) => [b, ...names.map((n) => fmt(rates[n]![b]!)), ...names.filter((n) => n !== base).map((n) => `${num(rates[n]![b]!.median / rates[base]![b]!.median)}x`)]);
}

function profileRows(p: OpProfile): Array<Array<string | number>> {
  return p.ops.slice(0, 10).map((o) => [o.op, o.nodes, num(o.ms), pct(o.share)]);
}

/** The CPU's int8 instruction sets and what they mean for the choice of int8 method. */
export function int8Advice(m: Machine): string {
  const f = new Set(m.cpuFlags.split(' '));
  return `${int8Isa(f)} Recommendation for this CPU: ${f.has('avx512_vnni') || f.has('avx_vnni') ? 'dynamic int8 (`export --int8-image`, the default method), measured below' : f.has('avx2') ? 'dynamic int8 where its accuracy is acceptable (1.55-1.73x fp32 measured on an AVX2 AMD EPYC in the run of commit c878b22)' : 'fp32'}.`;
}

function int8Isa(f: Set<string>): string {
  if (f.has('amx_int8')) return 'AMX-INT8 and AVX-512 VNNI: the int8 kernel ONNX Runtime picks at run time for this CPU is what was measured here.';
  if (f.has('avx512_vnni')) return 'AVX-512 VNNI: u8s8 dot products in one instruction, the best case for int8 on the CPU.';
  if (f.has('avx_vnni')) return 'AVX-VNNI (256-bit): int8 products at half the AVX-512 VNNI width.';
  if (f.has('avx2')) return 'AVX2 without VNNI: int8 products need three instructions per multiply-add, expect int8 gains well under 2x.';
  return 'no AVX2: int8 kernels fall back to slow paths; keep fp32.';
}

export function writePerfSections(md: Markdown, r: PerfReport, m: Machine): void {
  const f = r.fusion;
  if (f) {
    md.heading(2, '7. Fused graphs (export) against the traced graphs');
    const names = Object.keys(f.rates);
    md.table(['batch', ...names.map((n) => `${n} images/s`), 'fused / unfused'], ratioRows(f.rates, names[0]!));
    md.para(`Both image graphs of the same ViT-B-16 weights (seed 0), loaded through ClipnEncoders with graph optimisation level "all" (ONNX Runtime's own run-time fusions apply to both). The fused graph is what \`export\` writes by default: ${JSON.stringify(f.fused ?? {})} (nodes before and after; parity = largest difference from the traced graph relative to the output scale, checked at export against 1e-5).`);
    md.para(`ONNX Runtime op profile, traced graph (batch ${f.profiles.unfused.batch}, ${num(f.profiles.unfused.totalMs)} ms of kernel time per run):`);
    md.table(['op type', 'nodes', 'ms per run', 'share'], profileRows(f.profiles.unfused));
    md.para(`Fused graph (${num(f.profiles.fused.totalMs)} ms of kernel time per run):`);
    md.table(['op type', 'nodes', 'ms per run', 'share'], profileRows(f.profiles.fused));
  }
  const t = r.textLength;
  if (t) {
    md.heading(2, '8. Text towers at the true token length');
    md.para(`Cold label set, ${t.labels} labels x 1 template ("${t.template}", ${num(t.meanTokens)} tokens per text on average, start and end included), both towers, through \`buildHeads\` (sorted by token count, batched by length, at most maxBatch x 77 tokens a run) with an empty cache; against the same graphs fed every text padded to 77 positions (the run before the dynamic axis). Text graphs: yes ${t.textLengths.yes}, no ${t.textLengths.no}. The 77-position time is measured on every ${t.padStride}th label and scaled to ${t.labels} (its cost is linear in the count at a fixed length).`);
    const speed = t.padded.median / t.trueLength.median;
    md.table(['', 'seconds', ''], [
      ['true length', fmt(t.trueLength), ''],
      ['77 positions', fmt(t.padded), ''],
      ['77 positions / true length', '', `${num(speed)}x`],
    ]);
    md.heading(3, `Target cold ${t.labels} x 1 template >= 4x faster than the 77-position run: ${speed >= 4 ? 'met' : 'missed'} (${num(speed)}x)`);
    const e = t.ensemble;
    const full = 2 * 1000 * e.templates * e.perText.median;
    md.para(`Full ensemble: ${e.labels} labels x ${e.templates} templates (${e.texts} texts, ${num(e.meanTokens)} tokens on average) at ${fmt({ ...e.perText, median: e.perText.median * 1000, min: e.perText.min * 1000, max: e.perText.max * 1000 }, 'ms')} per text; 1000 labels x ${e.templates} templates = ${2000 * e.templates} texts, about ${num(full / 60)} minutes on these ${m.logicalCpus} CPUs.`);
    md.heading(3, `Target 80 templates x 1000 labels < 30 min on 2 cores: ${full / 60 < 30 ? 'met' : 'missed'} (about ${num((2000 * 80 * e.perText.median) / 60)} min)`);
  }
  const q = r.int8Methods;
  if (q) {
    md.heading(2, '9. int8: dynamic against static (QDQ) quantization');
    const names = Object.keys(q.rates);
    md.table(['batch', ...names.map((n) => `${n} images/s`), ...names.slice(1).map((n) => `${n} / ${names[0]}`)], ratioRows(q.rates, names[0]!));
    md.para(`CPU: ${m.cpu} (${m.cpuFlags}). ${int8Advice(m)} Dynamic: weights int8 per channel, activations quantized per batch at run time (the fused attention's QKV product becomes QAttention). Static: QDQ, weights int8 per channel, activation scales calibrated (MinMax) on 64 in-distribution demo-world images at the model's input size, none of them held out.`);
    const rows = Object.entries(q.quality).flatMap(([method, v]) => [[`int8 ${method}`, pct(v.int8.idAccuracy), num(v.int8.ctwAuroc, 4), num(v.int8.atdAuroc, 4), pts(v.int8.ctwAuroc - v.fp32.ctwAuroc), pts(v.int8.atdAuroc - v.fp32.atdAuroc), num(v.cosine.median, 5), num(v.cosine.min, 4)]]);
    const fp = Object.values(q.quality)[0]?.fp32;
    md.para('Quality on the demo model (held-out images):');
    md.table(['', 'ID accuracy', 'CTW AUROC', 'ATD AUROC', 'CTW change', 'ATD change', 'median cosine to fp32', 'lowest cosine'], [
      ...(fp ? [['fp32', pct(fp.idAccuracy), num(fp.ctwAuroc, 4), num(fp.atdAuroc, 4), '', '', '', '']] : []), ...rows,
    ]);
  }
  const mem = r.memory;
  if (mem) {
    md.heading(2, '10. ONNX Runtime memory options');
    md.para(`${mem.model}: one child process per setting (bench/memory-child.ts) loads the encoders, runs image batches 1..maxBatch twice and 400 label-like texts through both towers, then swaps in a no-tower release read from the bundle's text_no graph (its RSS rise is sampled every 2 ms; the peak column is before the swap). Files serve loads: ${num(mem.runtimeBytes / 2 ** 20, 4)} MiB; the target is peak <= 1.3 x that + 300 MiB = ${num((1.3 * mem.runtimeBytes) / 2 ** 20 + 300, 4)} MiB.`);
    md.table(['arena', 'memory patterns (image)', 'memory patterns (text)', 'sequential load', 'RSS loaded MiB', 'RSS after runs MiB', 'peak MiB', 'peak / files', 'image batch ms', 'texts ms', 'no-tower swap: RSS rise MiB'], mem.rows.map(({ variant: v, result: x }) => [
      v.cpuMemArena ? 'on' : 'off', v.memPattern ? 'on' : 'off', v.textMemPattern ? 'on' : 'off', v.sequentialLoad ? 'yes' : 'no', num(x.loadedMiB, 4), num(x.afterMiB, 4), num(x.peakMiB, 4),
      `${num((x.peakMiB * 2 ** 20) / mem.runtimeBytes)}x`, num(x.imageBatchMs), num(x.textMs), num(x.swapRiseMiB, 4),
    ]));
  }
}
