import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { sniffFormat } from '../../src/images/index.js';
import { looksTruncated } from '../../src/images/sniff.js';

const base = () => sharp({ create: { width: 16, height: 12, channels: 3, background: '#336699' } });

test('every accepted raster format is recognised from bytes sharp itself wrote', async () => {
  assert.equal(sniffFormat(await base().jpeg().toBuffer()), 'jpeg');
  assert.equal(sniffFormat(await base().png().toBuffer()), 'png');
  assert.equal(sniffFormat(await base().gif().toBuffer()), 'gif');
  assert.equal(sniffFormat(await base().webp().toBuffer()), 'webp');
  assert.equal(sniffFormat(await base().tiff().toBuffer()), 'tiff');
  assert.equal(sniffFormat(await base().tiff({ bigtiff: true }).toBuffer()), 'tiff');
  assert.equal(sniffFormat(await base().avif().toBuffer()), 'heif');
});

test('SVG is recognised as svg (so it can be refused); text, HTML and short data are not images', () => {
  assert.equal(sniffFormat(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), 'svg');
  assert.equal(sniffFormat(Buffer.from('\uFEFF  <?xml version="1.0"?>\n<svg width="1" height="1"></svg>')), 'svg');
  assert.equal(sniffFormat(Buffer.from('<?xml version="1.0"?><note>not svg</note>')), null);
  assert.equal(sniffFormat(Buffer.from('<html><body>hi</body></html>')), null);
  assert.equal(sniffFormat(Buffer.from('just text named .jpg')), null);
  assert.equal(sniffFormat(Buffer.from([0xff, 0xd8])), null);
  assert.equal(sniffFormat(Buffer.alloc(0)), null);
  assert.equal(sniffFormat(Buffer.from('%PDF-1.7\n')), null);
});

test('looksTruncated: a complete file is not, the same file cut is', async () => {
  for (const [format, bytes] of [['png', await base().png().toBuffer()], ['gif', await base().gif().toBuffer()], ['webp', await base().webp().toBuffer()], ['jpeg', await base().jpeg().toBuffer()]] as const) {
    assert.equal(looksTruncated(format, bytes), false, `${format} whole`);
    assert.equal(looksTruncated(format, bytes.subarray(0, bytes.length - 5)), true, `${format} cut`);
  }
});
