/**
 * Byte-level BPE tokenizer for captions: train on your own texts, encode with BPE dropout into
 * fixed-length padded batches, save and load.
 *
 * @example
 * ```ts
 * import { BpeTokenizer } from "./mod.ts";
 * const tok = BpeTokenizer.train(["a small red circle", "a large blue square"], {
 *   vocabSize: 260,
 * });
 * const { ids, lengths } = tok.encodeBatch(["a red square"], { textLen: 16 });
 * console.log(tok.decode(ids.subarray(0, lengths[0]))); // "a red square"
 * ```
 *
 * @module
 */
export {
  BpeTokenizer,
  type EncodeBatchOptions,
  type EncodedBatch,
  type EncodeOptions,
  SPECIAL_TOKENS,
  SPLIT_PATTERN,
  TOKENIZER_FORMAT,
  TOKENIZER_FORMAT_VERSION,
  type TokenizerJson,
  type TrainOptions,
  type TruncatedCaption,
} from "./bpe.ts";
