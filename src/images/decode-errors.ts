/** Turns what libvips throws into the image layer's coded errors. */
import { ClipnError, isClipnError } from '../errors.js';
import { looksTruncated, type SniffedFormat } from './sniff.js';

const TRUNCATED = /premature end|unexpected end|end of (file|stream|data)|truncated|not enough data|out of data|bad seek/i;
const PIXEL_LIMIT = /pixel limit|exceeds pixel/i;

/** A coded error for a failed decode of `bytes`, which sniffed as `format`. */
export function decodeError(error: unknown, format: SniffedFormat, bytes: Uint8Array, maxPixels: number): ClipnError {
  if (isClipnError(error)) return error;
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, '; ').slice(0, 500);
  const details = { format, bytes: bytes.byteLength, libvips: message };
  if (PIXEL_LIMIT.test(message)) {
    return new ClipnError('IMAGE_TOO_MANY_PIXELS', `${format} image exceeds the pixel limit ${maxPixels}: ${message}`, { cause: error, details: { ...details, limit: maxPixels } });
  }
  if (TRUNCATED.test(message) || looksTruncated(format, bytes)) {
    return new ClipnError('IMAGE_TRUNCATED', `${format} data ends early or is cut (${bytes.byteLength} bytes): ${message}`, { cause: error, details });
  }
  return new ClipnError('IMAGE_DECODE_FAILED', `cannot decode the ${format} image (${bytes.byteLength} bytes; corrupt or unreadable data): ${message}`, { cause: error, details });
}
