/**
 * Learning BPE merges fast: the algorithm behind `BpeTokenizer.train`.
 *
 * The text is pre-split into words and each distinct word is kept once with its frequency, as an
 * array of token ids. Pair counts are kept up to date as merges rewrite words (only the pairs
 * next to a merged occurrence change), an index maps each pair to the words that hold it, and a
 * lazy max-heap finds the most frequent pair. So one merge costs time in proportion to the words
 * it touches, not to the whole corpus, and 16k merges over 1 MB take seconds.
 *
 * Counting follows minbpe exactly: a pair's count is its number of adjacent positions (so "aaa"
 * holds ("a","a") twice), weighted by word frequency, and ties go to the pair whose earliest
 * occurrence in the current token stream comes first. Words are numbered in order of first
 * appearance, so "earliest" is the smallest (word number, byte offset in the word).
 *
 * @module
 */

/** A learned merge: the ids (left, right) that become one new id. */
export type Merge = [left: number, right: number];

/** A sanity bound on vocabulary sizes (the paper uses 16,384); bookkeeping arrays are this long. */
export const MAX_VOCAB_SIZE = 2 ** 20;

/** Bookkeeping for one pair of adjacent ids. */
interface PairStat {
  left: number;
  right: number;
  /** Occurrences, weighted by word frequency; overlapping occurrences count (as in minbpe). */
  count: number;
  /** Earliest occurrence: word number (order of first appearance in the text) ... */
  firstWord: number;
  /** ... and byte offset of the pair's left token inside that word. */
  firstOffset: number;
  /** The earliest occurrence was merged away; (firstWord, firstOffset) is now only a lower bound. */
  firstStale: boolean;
  /** Words that hold or once held the pair (stale entries are skipped when the pair merges). */
  words: number[];
}

/** A heap entry: a snapshot of a pair's priority, which may since have become optimistic. */
interface HeapEntry {
  count: number;
  firstWord: number;
  firstOffset: number;
  stat: PairStat;
}

/** Whether `a` should be merged before `b`: more frequent, then earlier in the text. */
function before(a: HeapEntry, b: HeapEntry): boolean {
  if (a.count !== b.count) return a.count > b.count;
  if (a.firstWord !== b.firstWord) return a.firstWord < b.firstWord;
  return a.firstOffset < b.firstOffset;
}

/** A binary max-heap ordered by `before`. */
class PairHeap {
  #items: HeapEntry[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(entry: HeapEntry): void {
    const items = this.#items;
    let i = items.length;
    items.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = entry;
  }

  pop(): HeapEntry | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= items.length) break;
        const r = l + 1;
        const child = r < items.length && before(items[r], items[l]) ? r : l;
        if (!before(items[child], last)) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/**
 * Learns up to `numMerges` merges over distinct words given as byte arrays.
 *
 * The arrays in `words` are rewritten in place as merges apply (they end up as the words'
 * final tokenization).
 *
 * @param words Distinct words as byte values 0–255, numbered in order of first appearance.
 * @param frequencies How often each word occurs in the text.
 * @param numMerges The most merges to learn.
 * @param minFrequency Stop once the best pair occurs fewer times than this.
 * @returns The merges in the order learned; merge i creates id 256 + i.
 * @example
 * ```ts
 * import { learnMerges } from "./_train.ts";
 * const word = [..."aaabdaaabac"].map((c) => c.charCodeAt(0));
 * learnMerges([word], [1], 3, 2); // [[97, 97], [256, 97], [257, 98]]
 * ```
 */
export function learnMerges(
  words: number[][],
  frequencies: number[],
  numMerges: number,
  minFrequency: number,
): Merge[] {
  // left id → (right id → stat). Nested small-integer keys hash faster than one combined key;
  // the outer array is dense so that indexing by id stays fast.
  const stats: (Map<number, PairStat> | undefined)[] = new Array(256 + numMerges).fill(undefined);
  const tokenLength: number[] = Array.from({ length: 256 }, () => 1); // bytes per id
  const heap = new PairHeap();
  const improved = new Set<PairStat>(); // pairs whose count or earliest occurrence got better

  const entryOf = (stat: PairStat): HeapEntry => ({
    count: stat.count,
    firstWord: stat.firstWord,
    firstOffset: stat.firstOffset,
    stat,
  });

  const addOccurrence = (
    left: number,
    right: number,
    word: number,
    offset: number,
    freq: number,
  ) => {
    const byRight = (stats[left] ??= new Map());
    let stat = byRight.get(right);
    if (stat === undefined) {
      stat = {
        left,
        right,
        count: 0,
        firstWord: word,
        firstOffset: offset,
        firstStale: false,
        words: [],
      };
      byRight.set(right, stat);
    } else if (
      word < stat.firstWord || (word === stat.firstWord && offset < stat.firstOffset)
    ) {
      // Before even a lower bound, so certainly the new earliest occurrence.
      stat.firstWord = word;
      stat.firstOffset = offset;
      stat.firstStale = false;
    } else if (stat.count === 0) {
      // A pair that had vanished comes back: its only occurrence is this one.
      stat.firstWord = word;
      stat.firstOffset = offset;
      stat.firstStale = false;
    }
    stat.count += freq;
    if (stat.words[stat.words.length - 1] !== word) stat.words.push(word);
    improved.add(stat);
  };

  const removeOccurrence = (
    left: number,
    right: number,
    word: number,
    offset: number,
    freq: number,
  ) => {
    const stat = stats[left]!.get(right)!;
    stat.count -= freq;
    if (stat.firstWord === word && stat.firstOffset === offset) stat.firstStale = true;
  };

  /** Byte offset of the first occurrence of (left, right) in a word, or -1. */
  const findInWord = (tokens: number[], left: number, right: number): number => {
    let offset = 0;
    for (let i = 0; i + 1 < tokens.length; i++) {
      if (tokens[i] === left && tokens[i + 1] === right) return offset;
      offset += tokenLength[tokens[i]];
    }
    return -1;
  };

  /** Finds a stale pair's true earliest occurrence, dropping words that no longer hold it. */
  const refreshFirst = (stat: PairStat, visited: Int32Array, stamp: number) => {
    const holding: number[] = [];
    stat.firstWord = Infinity;
    for (const word of stat.words) {
      if (visited[word] === stamp) continue;
      visited[word] = stamp;
      const offset = findInWord(words[word], stat.left, stat.right);
      if (offset < 0) continue;
      holding.push(word);
      if (word < stat.firstWord) {
        stat.firstWord = word;
        stat.firstOffset = offset;
      }
    }
    stat.words = holding;
    stat.firstStale = false;
  };

  // Initial counts, scanning words in order of first appearance so that the first time a pair
  // is seen is its earliest occurrence.
  for (let w = 0; w < words.length; w++) {
    const tokens = words[w];
    for (let i = 0; i + 1 < tokens.length; i++) {
      addOccurrence(tokens[i], tokens[i + 1], w, i, frequencies[w]);
    }
  }
  for (const stat of improved) heap.push(entryOf(stat));
  improved.clear();

  const visited = new Int32Array(words.length).fill(-1);
  let stamp = 0;
  const merges: Merge[] = [];

  while (merges.length < numMerges && heap.size > 0) {
    const entry = heap.pop()!;
    // Entries only ever overstate a pair's priority, so a top entry below the threshold means
    // every pair is below it.
    if (entry.count < minFrequency) break;
    const stat = entry.stat;
    if (stat.count < minFrequency) continue; // merged or thinned out since this entry was pushed
    if (stat.firstStale) refreshFirst(stat, visited, stamp++);
    if (
      entry.count !== stat.count || entry.firstWord !== stat.firstWord ||
      entry.firstOffset !== stat.firstOffset
    ) {
      heap.push(entryOf(stat)); // outdated snapshot: requeue at its true priority
      continue;
    }

    const { left, right } = stat;
    const id = 256 + merges.length;
    merges.push([left, right]);
    tokenLength[id] = tokenLength[left] + tokenLength[right];

    for (const w of stat.words) {
      const tokens = words[w];
      const freq = frequencies[w];
      const n = tokens.length;
      // Rewrite the word in place; `offset` is the byte offset of tokens[read] (and of the
      // next written token, since merging never moves bytes).
      let read = 0;
      let write = 0;
      let offset = 0;
      while (read < n) {
        if (read + 1 < n && tokens[read] === left && tokens[read + 1] === right) {
          if (write > 0) {
            const prev = tokens[write - 1];
            const prevOffset = offset - tokenLength[prev];
            // (prev, left) is the merged pair itself only in runs like "aaa"; its count is
            // zeroed below anyway.
            if (!(prev === left && left === right)) {
              removeOccurrence(prev, left, w, prevOffset, freq);
            }
            addOccurrence(prev, id, w, prevOffset, freq);
          }
          if (read + 2 < n) {
            const next = tokens[read + 2];
            if (!(right === left && next === right)) {
              removeOccurrence(right, next, w, offset + tokenLength[left], freq);
            }
            addOccurrence(id, next, w, offset, freq);
          }
          tokens[write++] = id;
          read += 2;
          offset += tokenLength[id];
        } else {
          const token = tokens[read++];
          tokens[write++] = token;
          offset += tokenLength[token];
        }
      }
      tokens.length = write;
    }
    // Every occurrence was merged or overlapped by a merged one, and the pair cannot reappear
    // (new tokens only ever get new ids).
    stat.count = 0;
    stat.words = [];
    improved.delete(stat);

    for (const s of improved) if (s.count >= minFrequency) heap.push(entryOf(s));
    improved.clear();
  }
  return merges;
}
