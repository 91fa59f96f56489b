import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanText, ftfyFixText, pythonHtmlUnescape } from '../../src/model/text-clean.js';

// Expected strings follow the documented behaviour of Python's html.unescape and ftfy.fix_text.

test("pythonHtmlUnescape follows Python's html.unescape", () => {
  assert.equal(pythonHtmlUnescape('fish &amp; chips &lt;3'), 'fish & chips <3');
  assert.equal(pythonHtmlUnescape('&amp fish &copy'), '& fish \u00a9'); // legacy names without ;
  assert.equal(pythonHtmlUnescape('&notit;'), '\u00acit;'); // longest legacy prefix
  assert.equal(pythonHtmlUnescape('&#65;&#x42;&#67'), 'ABC');
  assert.equal(pythonHtmlUnescape('&#x80;&#0;&#x110000;&#xD800;'), '\u20ac\ufffd\ufffd\ufffd');
  assert.equal(pythonHtmlUnescape('a&#1;b&#xFDD0;c&#xFFFF;d'), 'abcd'); // invalid code points are dropped
  assert.equal(pythonHtmlUnescape('&amp;amp;'), '&amp;'); // one level per call
  assert.equal(pythonHtmlUnescape('no entities & here'), 'no entities & here');
});

test("ftfyFixText reproduces ftfy's character fixes", () => {
  assert.equal(ftfyFixText('\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33'), 'LOUD NOISES');
  assert.equal(ftfyFixText('\ufb02u\ufb03e\ufb06 \u01c5'), 'fluffiest D\u017e');
  assert.equal(ftfyFixText('\u201chere\u2019s\u201d \u02bcokina'), '"here\'s" \'okina');
  assert.equal(ftfyFixText('a\u0000b\u0007\ufeffc\u206a'), 'abc');
  assert.equal(ftfyFixText('\u001b[36;44mblue\u001b[0m'), 'blue');
  assert.equal(ftfyFixText('x\u0085y \u0092s'), "x\u2026y 's"); // C1 controls read as Windows-1252, then uncurled
  assert.equal(ftfyFixText('a\r\nb\u2028c'), 'a\nb\nc');
  assert.equal(ftfyFixText('lone \ud800!'), 'lone \ufffd!');
  assert.equal(ftfyFixText('e\u0301'), '\u00e9'); // NFC
  // Only ;-terminated names, repeated until stable, and all-caps forms of lower-case ones.
  assert.equal(ftfyFixText('&amp;amp;amp; P&EACUTE;REZ &amp &NTILDE; &nTILDE;'), '& P\u00c9REZ &amp \u00d1 &nTILDE;');
  // A line with "<" is HTML: entities are kept there and on every later line.
  assert.equal(ftfyFixText('&amp;amp;\n<b>&amp;</b>\n&amp;'), '&\n<b>&amp;</b>\n&amp;');
});

test('cleanText is ftfy then html.unescape twice', () => {
  assert.equal(cleanText('<b>&amp;amp;amp;</b>'), '<b>&amp;</b>');
  assert.equal(cleanText('&amp;amp;amp;amp;'), '&');
  assert.equal(cleanText(''), '');
});
