/**
 * Recognises image formats from their first bytes, before libvips sees the data: only an
 * allow-listed raster format is handed to a decoder, whatever the producer claims it sent.
 */

/** Formats the decoder accepts; `svg` only when options allow it. */
export type SniffedFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'heif' | 'svg';

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1', 'avif', 'avis']);

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean => sig.every((v, i) => b[at + i] === v);
const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

/** The format named by the leading bytes, or null when they name none of the accepted ones. */
export function sniffFormat(b: Uint8Array): SniffedFormat | null {
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  const head = ascii(b, 0, 12);
  if (head.startsWith('GIF87a') || head.startsWith('GIF89a')) return 'gif';
  if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return 'webp';
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]) || startsWith(b, [0x49, 0x49, 0x2b, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff';
  if (head.slice(4, 8) === 'ftyp' && HEIF_BRANDS.has(head.slice(8, 12))) return 'heif';
  // SVG is text: an optional BOM and whitespace, then an XML declaration, comment or the element.
  const text = ascii(b, 0, Math.min(b.length, 512)).replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (/^<(\?xml|!--|!DOCTYPE svg|svg[\s>])/i.test(text) && /<svg[\s>]/i.test(text)) return 'svg';
  return null;
}

/**
 * True when the data visibly stops early for its format (no PNG IEND, no GIF trailer, fewer
 * bytes than the RIFF header declares, no JPEG end marker). Only asked after a decode failed,
 * to tell a truncated upload from corrupt data: libvips reports both alike for some formats.
 */
export function looksTruncated(format: SniffedFormat, b: Uint8Array): boolean {
  const n = b.length;
  switch (format) {
    case 'png':
      return n < 12 || ascii(b, n - 8, n - 4) !== 'IEND';
    case 'gif':
      return b[n - 1] !== 0x3b;
    case 'webp':
      return n < 8 || (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0 > n - 8;
    case 'jpeg':
      return !(b[n - 2] === 0xff && b[n - 1] === 0xd9);
    default:
      return false;
  }
}
