/** An ROC-curve PNG: an SVG drawn here, rasterised by sharp (no plotting dependency). */
import sharp from 'sharp';

export interface RocSeries {
  name: string;
  fpr: number[];
  tpr: number[];
}

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2'];

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

export function rocSvg(title: string, series: readonly RocSeries[], size = 560): string {
  const pad = 60;
  const plot = size - pad * 1.5;
  const x = (v: number): number => pad + v * plot;
  const y = (v: number): number => size - pad - v * plot;
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((v) => `<line x1="${x(v)}" y1="${y(0)}" x2="${x(v)}" y2="${y(1)}" stroke="#eee"/><line x1="${x(0)}" y1="${y(v)}" x2="${x(1)}" y2="${y(v)}" stroke="#eee"/>` +
      `<text x="${x(v)}" y="${y(0) + 16}" font-size="11" text-anchor="middle">${v}</text><text x="${x(0) - 8}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v}</text>`)
    .join('');
  const lines = series
    .map((s, i) => {
      const pts = s.fpr.map((f, j) => `${x(f).toFixed(1)},${y(s.tpr[j]!).toFixed(1)}`).join(' ');
      const c = COLOURS[i % COLOURS.length];
      return `<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"/><rect x="${x(0.55)}" y="${y(0.32) + i * 18 - 9}" width="12" height="4" fill="${c}"/>` +
        `<text x="${x(0.55) + 18}" y="${y(0.32) + i * 18 - 3}" font-size="12">${escapeXml(s.name)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="white"/>${grid}` +
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4"/>` +
    `<rect x="${x(0)}" y="${y(1)}" width="${plot}" height="${plot}" fill="none" stroke="#333"/>${lines}` +
    `<text x="${size / 2}" y="24" font-size="15" text-anchor="middle">${escapeXml(title)}</text>` +
    `<text x="${size / 2}" y="${size - 14}" font-size="12" text-anchor="middle">false positive rate (OOD accepted)</text>` +
    `<text x="16" y="${size / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${size / 2})">true positive rate (ID kept)</text></svg>`;
}

export async function writeRocPng(file: string, title: string, series: readonly RocSeries[]): Promise<void> {
  await sharp(Buffer.from(rocSvg(title, series))).png().toFile(file);
}
