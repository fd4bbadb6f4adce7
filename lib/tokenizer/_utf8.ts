/**
 * Showing a token's bytes as readable text: valid UTF-8 as characters, everything else escaped.
 *
 * @module
 */

const decoder = new TextDecoder();

/**
 * Length of the well-formed UTF-8 sequence that starts at `bytes[i]`, or 0 when none does
 * (stray continuation byte, overlong form, surrogate, truncated sequence, > U+10FFFF).
 *
 * @param bytes The byte string.
 * @param i Where the sequence would start.
 * @returns 1–4, or 0 for an invalid byte.
 * @example
 * ```ts
 * import { utf8SequenceLength } from "./_utf8.ts";
 * utf8SequenceLength(new Uint8Array([0xc3, 0xa9]), 0); // 2 ("é")
 * utf8SequenceLength(new Uint8Array([0xc3]), 0); // 0 (truncated)
 * ```
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i];
  const continuation = (j: number, lo = 0x80, hi = 0xbf) =>
    i + j < bytes.length && bytes[i + j] >= lo && bytes[i + j] <= hi;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return continuation(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // E0 needs A0.. (no overlongs); ED stops at 9F (no UTF-16 surrogates).
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return continuation(1, lo, hi) && continuation(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    // F0 needs 90.. (no overlongs); F4 stops at 8F (nothing above U+10FFFF).
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return continuation(1, lo, hi) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

/**
 * Renders bytes for humans: well-formed UTF-8 as its characters, each byte that is not part of
 * one as `\xNN`, control characters (C0 and DEL) as `\xNN`, and a backslash as `\\` so the
 * rendering is unambiguous.
 *
 * @param bytes The token's bytes.
 * @returns A printable string.
 * @example
 * ```ts
 * import { escapeBytes } from "./_utf8.ts";
 * escapeBytes(new Uint8Array([0x20, 0x72, 0x65, 0x64])); // " red"
 * escapeBytes(new Uint8Array([0xe2, 0x82])); // "\\xe2\\x82" (half of "€")
 * ```
 */
export function escapeBytes(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    const b0 = bytes[i];
    if (length === 0 || b0 < 0x20 || b0 === 0x7f) {
      out += `\\x${b0.toString(16).padStart(2, "0")}`;
      i += 1;
    } else if (b0 === 0x5c) {
      out += "\\\\";
      i += 1;
    } else {
      out += decoder.decode(bytes.subarray(i, i + length));
      i += length;
    }
  }
  return out;
}

/**
 * UTF-8 bytes of a string as a plain array, byte for byte what `TextEncoder` gives (a lone
 * surrogate becomes U+FFFD's bytes EF BF BD), but without a call into the runtime per word,
 * which dominates when encoding many short words.
 *
 * @param text Any string.
 * @returns Its UTF-8 bytes.
 * @example
 * ```ts
 * import { utf8Bytes } from "./_utf8.ts";
 * utf8Bytes("é€"); // [0xc3, 0xa9, 0xe2, 0x82, 0xac]
 * utf8Bytes("\ud800"); // [0xef, 0xbf, 0xbd]
 * ```
 */
export function utf8Bytes(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out.push(c);
      continue;
    }
    if (c < 0x800) {
      out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const low = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
        out.push(
          0xf0 | (c >> 18),
          0x80 | ((c >> 12) & 0x3f),
          0x80 | ((c >> 6) & 0x3f),
          0x80 | (c & 0x3f),
        );
        continue;
      }
      c = 0xfffd; // a lone surrogate: replaced, as TextEncoder does
    }
    out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return out;
}
