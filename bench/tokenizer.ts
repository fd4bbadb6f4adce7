/**
 * Benchmark: how fast does the BPE tokenizer train and encode?
 *
 * Question: can a user train a 16k-vocabulary tokenizer on 1 MB of captions in a notebook cell
 * (seconds), and does encoding keep up with js-tiktoken (cl100k_base, its own vocabulary) on the
 * same text, caption by caption and as one long string?
 * Command: `deno task bench tokenizer`, or `deno run -A bench/tokenizer.ts [--quick]`
 * (plain JavaScript: no tfjs backend). `--quick` uses 50 kB texts and at most 2 trials.
 * Runtime: about a minute on one core (js-tiktoken is slow on words outside its vocabulary).
 * Expected: training in a few seconds; encode throughput at least js-tiktoken's.
 *
 * Two texts of 1 MB each: shapes captions (few distinct words, so training stops long before
 * 16k merges: every word becomes one token) and a more varied text (captions with invented
 * Zipf-distributed words) on which 16k merges are reachable. "Cold" encoding starts from an empty
 * word cache; "warm" encodes the same text again with the cache filled.
 *
 * @module
 */
import { Tiktoken } from "js-tiktoken/lite";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";
import { captionsOfSize, variedText } from "../lib/tokenizer/testdata/_captions.ts";
import type { BenchOptions, BenchRow } from "./_peer.ts";
import { parseFlags, UsageError } from "../lib/log/mod.ts";

const MEGABYTE = 1e6;
const VOCAB_SIZE = 16_384;
/** Shapes captions stop long before 16k merges (see above): that size is what is measured. */
const TRAIN_OPTIONS = { vocabSize: VOCAB_SIZE, allowSmaller: true };
/** Most trials per measurement (2 in `--quick` mode). */
let maxTrials = 5;
/** Stop repeating a measurement once it has taken this long in total (slow peers run once). */
const BUDGET_SEC = 4;

/**
 * Seconds for the fastest of up to `trials` runs of `run` (after `setup` each time, untimed);
 * the fastest run is the one least disturbed by other work on the machine.
 */
function bestSeconds(
  run: () => void,
  setup: () => void = () => {},
  trials = maxTrials,
): number {
  trials = Math.min(trials, maxTrials);
  let best = Infinity;
  let total = 0;
  for (let t = 0; t < trials && total < BUDGET_SEC; t++) {
    setup();
    const start = performance.now();
    run();
    const sec = (performance.now() - start) / 1000;
    best = Math.min(best, sec);
    total += sec;
  }
  return best;
}

/**
 * Measures training time and encode/decode throughput, beside js-tiktoken.
 *
 * @param options `quick`: 50 kB texts and at most 2 trials instead of 1 MB and 5 @default false.
 * @returns Rows for `deno task bench`, with js-tiktoken's figure as the in-process peer.
 * @example
 * ```ts
 * import { benchTokenizer } from "./tokenizer.ts";
 * for (const row of await benchTokenizer({ quick: true })) console.log(row);
 * ```
 */
export async function benchTokenizer(options: BenchOptions = {}): Promise<BenchRow[]> {
  await Promise.resolve(); // async for a uniform `bench<Piece>()` signature
  const size = options.quick ? MEGABYTE / 20 : MEGABYTE;
  maxTrials = options.quick ? 2 : 5;
  const peerName = "js-tiktoken cl100k_base";
  const rows: BenchRow[] = [];
  const tiktoken = new Tiktoken(cl100k);
  const utf8 = new TextEncoder();

  for (
    const [corpus, lines] of [
      ["shapes captions", captionsOfSize(size, 0)],
      ["varied captions", variedText(size, 0)],
    ] as const
  ) {
    const megabytes = lines.reduce((sum, line) => sum + utf8.encode(line).length + 1, 0) / MEGABYTE;
    let tokenizer = BpeTokenizer.train(lines, TRAIN_OPTIONS); // warm up the JIT
    const trainSec = bestSeconds(
      () => {
        tokenizer = BpeTokenizer.train(lines, TRAIN_OPTIONS);
      },
      undefined,
      2,
    );
    const training = `train ${VOCAB_SIZE} vocab on ${megabytes.toFixed(2)} MB ${corpus}`;
    rows.push({ workload: training, value: Number(trainSec.toFixed(3)), unit: "s" });
    rows.push({
      workload: `${training}: merges learned`,
      value: tokenizer.merges.length,
      unit: "merges",
    });

    const json = tokenizer.toJSON();
    let fresh = BpeTokenizer.fromJSON(json);
    let ourTokens = 0;
    const encodeAll = () => {
      ourTokens = 0;
      for (const line of lines) ourTokens += fresh.encode(line).length;
    };
    const coldSec = bestSeconds(encodeAll, () => (fresh = BpeTokenizer.fromJSON(json)));
    const warmSec = bestSeconds(encodeAll);
    let theirTokens = 0;
    const theirSec = bestSeconds(() => {
      theirTokens = 0;
      for (const line of lines) theirTokens += tiktoken.encode(line).length;
    });
    const theirMBps = megabytes / theirSec;
    for (const [mode, sec] of [["cold cache", coldSec], ["warm cache", warmSec]] as const) {
      rows.push({
        workload: `encode ${corpus} (${mode})`,
        value: Number((megabytes / sec).toFixed(2)),
        unit: "MB/s",
        peerName,
        peerValue: Number(theirMBps.toFixed(2)),
      });
    }
    // One long string amortises per-call overhead (js-tiktoken builds regexes on every call).
    const whole = lines.join("\n");
    const wholeSec = bestSeconds(
      () => fresh.encode(whole),
      () => (fresh = BpeTokenizer.fromJSON(json)),
    );
    const theirWholeSec = bestSeconds(() => tiktoken.encode(whole));
    rows.push({
      workload: `encode ${corpus} as one string (cold cache)`,
      value: Number((megabytes / wholeSec).toFixed(2)),
      unit: "MB/s",
      peerName,
      peerValue: Number((megabytes / theirWholeSec).toFixed(2)),
    });
    rows.push({
      workload: `tokens per caption, ${corpus}`,
      value: Number((ourTokens / lines.length).toFixed(2)),
      unit: "tokens",
      peerName,
      peerValue: Number((theirTokens / lines.length).toFixed(2)),
    });

    const dropoutSec = bestSeconds(() => {
      for (let i = 0; i < lines.length; i++) tokenizer.encode(lines[i], { dropout: 0.1, seed: i });
    });
    rows.push({
      workload: `encode ${corpus} with 10% BPE dropout`,
      value: Number((megabytes / dropoutSec).toFixed(2)),
      unit: "MB/s",
    });

    const encoded = lines.map((line) => tokenizer.encode(line));
    const decodeSec = bestSeconds(() => {
      for (const ids of encoded) tokenizer.decode(ids);
    });
    rows.push({
      workload: `decode ${corpus}`,
      value: Number((megabytes / decodeSec).toFixed(2)),
      unit: "MB/s",
    });
  }
  return rows;
}

if (import.meta.main) {
  /** This file's flags when run on its own (`deno task bench` passes the same to it). */
  const BENCH_FLAGS = {
    /** A smoke run: 2–3 timed iterations, smaller batches; its figures mean little. */
    quick: false,
  };
  const flags = parseFlags(BENCH_FLAGS);
  if (flags.backend !== undefined) {
    throw new UsageError("--backend: the tokenizer benchmark runs plain JavaScript, on no backend");
  }
  console.table(await benchTokenizer({ quick: flags.quick }));
}
