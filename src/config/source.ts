// The config text as bytes and as lines: strict UTF-8 decoding (a bad byte is an error with its line:col, not a
// silent U+FFFD), and offsets turned into file:line:col when a message needs one.
import { isUtf8 } from 'node:buffer';
import type { Pos } from './types';

/** A config text and where its lines start; line:col are 1-based, columns count UTF-16 units like the `yaml` package. */
export class Source {
  private lineStarts: Uint32Array | null = null;
  private text: string | null;

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.text = text;
  }

  pos(offset: number): Pos {
    const starts = this.lines();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, col: offset - starts[lo] + 1 };
  }

  /** Built on the first position asked for; the text is not kept after that. */
  private lines(): Uint32Array {
    if (this.lineStarts !== null) return this.lineStarts;
    const text = this.text ?? '';
    let n = 1;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
    const starts = new Uint32Array(n);
    let k = 1;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts[k++] = i + 1;
    this.lineStarts = starts;
    this.text = null;
    return starts;
  }
}

/** The text of a UTF-8 file, or the offset of the first byte that is not part of a valid UTF-8 sequence. */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { badOffset: number; line: number; col: number; byte: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buf)) return { text: buf.toString('utf8') };
  const bad = firstInvalidUtf8(buf);
  // Everything before `bad` is valid, so the column can be counted on the decoded line like any other.
  const lineStart = buf.lastIndexOf(0x0a, bad - 1) + 1;
  let line = 1;
  for (let i = buf.indexOf(0x0a); i >= 0 && i < bad; i = buf.indexOf(0x0a, i + 1)) line++;
  const col = buf.toString('utf8', lineStart, bad).length + 1;
  return { badOffset: bad, line, col, byte: buf[bad] };
}

/**
 * Offset of the first byte that starts an ill-formed sequence (Unicode 15 §3.9, table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF); -1 when there is none. Only called once isUtf8 said there is one.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) need = 2;
    else if (c >= 0xf0 && c <= 0xf4) need = 3;
    else return i;
    if (i + need >= n) return i;
    let lo = 0x80;
    let hi = 0xbf;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f;
    else if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f;
    if (b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k <= need; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}
