/**
 * The text cleaning open_clip applies before BPE that tokenizer.json cannot express:
 * `ftfy.fix_text` (its character-level fixes) and then `html.unescape` twice. Without it the
 * runtime would give other ids than the model was trained with for full-width letters, control
 * characters, digraphs, `&amp;amp;` and the like. ftfy's mojibake repair (re-decoding text in
 * another code page) is not reproduced: it is a heuristic over whole strings, not a mapping.
 */
import { decodeHTML, decodeHTMLStrict } from 'entities';

/** ftfy's Latin ligatures and digraphs (fix_latin_ligatures). */
const LIGATURES: ReadonlyMap<string, string> = new Map([
  ['\u0132', 'IJ'], ['\u0133', 'ij'], ['\u0149', '\u02bcn'], ['\u01f1', 'DZ'], ['\u01f2', 'Dz'], ['\u01f3', 'dz'],
  ['\u01c4', 'D\u017d'], ['\u01c5', 'D\u017e'], ['\u01c6', 'd\u017e'], ['\u01c7', 'LJ'], ['\u01c8', 'Lj'], ['\u01c9', 'lj'],
  ['\u01ca', 'NJ'], ['\u01cb', 'Nj'], ['\u01cc', 'nj'], ['\ufb00', 'ff'], ['\ufb01', 'fi'], ['\ufb02', 'fl'],
  ['\ufb03', 'ffi'], ['\ufb04', 'ffl'], ['\ufb05', '\u017ft'], ['\ufb06', 'st'],
]);
const LIGATURE_RE = new RegExp(`[${[...LIGATURES.keys()].join('')}]`, 'g');

/** Windows-1252 for the C1 controls (fix_c1_controls); the five unassigned bytes stay as they are. */
const CP1252_C1 = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

// ftfy's control characters to drop; whitespace controls, joiners and bidi marks are kept.
const CONTROL_RE = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const ANSI_RE = /\u001b\[(?:\d|;)*[a-zA-Z]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// ftfy's fix_character_width: the ideographic space and the half/full-width forms block.
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

/** Python's html.unescape for one numeric reference body (`#65`, `#x41`), semicolon optional. */
function numericCharRef(body: string): string {
  const hex = body[1] === 'x' || body[1] === 'X';
  const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
  const num = Number.parseInt(digits, hex ? 16 : 10);
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return CP1252_C1[num - 0x80]!;
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff || !Number.isFinite(num)) return '\ufffd';
  // Python drops the code points HTML calls invalid instead of keeping them.
  if ((num >= 0x1 && num <= 0x8) || num === 0xb || (num >= 0xe && num <= 0x1f) || (num >= 0x7f && num <= 0x9f) || (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe) {
    return '';
  }
  return String.fromCodePoint(num);
}

const PY_CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Python's `html.unescape`: named references as HTML5 (with `entities`), numeric ones as Python. */
export function pythonHtmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(PY_CHARREF_RE, (match, body: string) => (body.startsWith('#') ? numericCharRef(body) : decodeHTML(match)));
}

const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

/** ftfy's unescape_html: only `;`-terminated references, plus all-caps names such as `&EACUTE;`. */
function ftfyUnescape(text: string): string {
  return text.replace(FTFY_ENTITY_RE, (match) => {
    if (match.startsWith('&#')) {
      const decoded = pythonHtmlUnescape(match);
      return decoded.includes(';') ? match : decoded;
    }
    const strict = decodeHTMLStrict(match);
    if (strict !== match) return strict;
    const name = match.slice(1, -1);
    if (name !== name.toUpperCase()) return match;
    const lower = `&${name.toLowerCase()};`;
    const char = decodeHTMLStrict(lower);
    // ftfy skips upper-case names that html.unescape would read as a shorter entity (&LTIMES;).
    return char !== lower && pythonHtmlUnescape(match) === match ? char.toUpperCase() : match;
  });
}

/** One pass of ftfy's fixes over one line, in ftfy's order. */
function ftfyPass(text: string, unescape: boolean): string {
  let t = unescape ? ftfyUnescape(text) : text;
  t = t.replace(/[\u0080-\u009f]/g, (c) => CP1252_C1[c.charCodeAt(0) - 0x80]!);
  t = t.replace(LIGATURE_RE, (c) => LIGATURES.get(c)!);
  t = t.replace(WIDTH_RE, (c) => (c === '\u3000' ? ' ' : c.normalize('NFKC')));
  t = t.replace(/[\u02bc\u2018-\u201b]/g, "'").replace(/[\u201c-\u201f]/g, '"');
  t = t.replace(/\r\n|[\r\u2028\u2029\u0085]/g, '\n');
  t = t.replace(LONE_SURROGATE_RE, '\ufffd');
  t = t.replace(ANSI_RE, '').replace(CONTROL_RE, '');
  return t.normalize('NFC');
}

/**
 * ftfy.fix_text without mojibake repair: line by line, each line fixed until it no longer
 * changes; entity decoding stops for good at the first line holding a `<` (ftfy reads that as HTML).
 */
export function ftfyFixText(text: string): string {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  let unescape = true;
  return lines
    .map((line) => {
      if (line.includes('<')) unescape = false;
      let current = line;
      for (;;) {
        const next = ftfyPass(current, unescape);
        if (next === current) return next;
        current = next;
      }
    })
    .join('');
}

/** What open_clip does to a text before its whitespace clean-up and BPE: fix_text, then html.unescape twice. */
export function cleanText(text: string): string {
  return pythonHtmlUnescape(pythonHtmlUnescape(ftfyFixText(text)));
}
