// The config text as bytes and as lines: strict UTF-8 decoding (a bad byte is an error with its line:col, not a
// silent U+FFFD), and offsets turned into file:line:col when a message needs one.
import { isUtf8 } from 'node:buffer';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { TextDecoder } from 'node:util';
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

/** Bytes read at a time: below glibc's initial mmap threshold (128 KiB), so the read buffer comes from the arena. */
const READ_CHUNK = 64 * 1024;

/**
 * The text of a UTF-8 file, read 64 KiB at a time. Reading it whole would malloc one buffer the size of the file
 * (5 MB for 10,000 load balancers); glibc serves that with mmap, and freeing it raises the process's mmap threshold
 * to that size for good. From then on every allocation below 5 MB comes from the malloc arenas, and what a reload
 * frees there stays resident: about 17 MB more RSS after ten reloads of such a file. A file that is not valid UTF-8
 * is read again whole, to say where.
 */
export function readUtf8File(file: string): ReturnType<typeof decodeUtf8> {
  const fd = openSync(file, 'r');
  let text = '';
  try {
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const buf = Buffer.allocUnsafeSlow(READ_CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, READ_CHUNK, null);
      const piece = decodePiece(decoder, n === 0 ? null : buf.subarray(0, n));
      if (piece === null) return decodeUtf8(readFileSync(file));
      text += piece;
      if (n === 0) break;
    }
  } finally {
    closeSync(fd);
  }
  return { text };
}

/** The next piece of text (null bytes: the end of the input), or null when the bytes are not valid UTF-8. */
function decodePiece(decoder: TextDecoder, bytes: Uint8Array | null): string | null {
  try {
    return bytes === null ? decoder.decode() : decoder.decode(bytes, { stream: true });
  } catch {
    return null;
  }
}

/** The text of UTF-8 bytes, or the offset of the first byte that is not part of a valid UTF-8 sequence. */
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
