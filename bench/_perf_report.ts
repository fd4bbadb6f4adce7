/**
 * Reads `perf report` and sorts a process's CPU time into kinds of work (matrix products,
 * elementwise kernels, compiled code, threads, memory, dispatch), so that our step and PyTorch's
 * can be set side by side by what they spend their time on.
 *
 * The kinds come from the symbol (and the shared object) of each sample: oneDNN's runtime-generated
 * kernels show as `[JIT]` with their names when `ONEDNN_JIT_PROFILE=2` (bench/profile.ts sets it);
 * a `[JIT]` address without a name is XLA's compiled code (the only other code generator in a
 * TensorFlow process of ours; in a PyTorch process it is oneDNN's or inductor's).
 *
 * @module
 */

/** One line of `perf report -n --sort pid,dso,sym -t '|'`: one thread's samples in one symbol. */
export interface PerfSymbol {
  /** Samples that landed in the symbol. */
  samples: number;
  /** The thread (its id). */
  thread: number;
  /** The shared object (`libtensorflow_cc.so.2`, `[kernel.kallsyms]`, `[JIT] tid 123`). */
  dso: string;
  /** The symbol, or a hex address where perf has no name. */
  symbol: string;
}

/** The kinds of work a profile is sorted into, in the order tables show them. */
export const WORK_KINDS = [
  "matrix products and convolutions",
  "elementwise and reductions (library kernels)",
  "compiled code (XLA or inductor)",
  "memory: copy, fill, allocate",
  "threads: steal, wait, wake",
  "framework dispatch",
  "interpreter (JavaScript or Python)",
  "system (kernel)",
  "other",
] as const;

/** One of {@link WORK_KINDS}. */
export type WorkKind = typeof WORK_KINDS[number];

/**
 * Parses the report that `perf report -n --sort pid,dso,sym --stdio -t '|'` prints, keeping the
 * lines of some threads (a system-wide recording holds every process's).
 *
 * @param text The report.
 * @param threads The thread ids to keep. @default every thread
 * @returns One entry per kept line (header lines skipped).
 * @throws {Error} No line left (an empty profile, other threads only, or another format).
 * @example
 * ```ts
 * import { parsePerfReport } from "./_perf_report.ts";
 * const text = "# Samples: 3\n 66.67%  | 2  |  7:deno  |libc.so.6  |[.] memcpy\n" +
 *   " 33.33%  | 1  |  9:perf  |perf  |[.] main\n";
 * console.log(parsePerfReport(text, new Set([7]))); // [{ samples: 2, thread: 7, dso: "libc.so.6", symbol: "memcpy" }]
 * ```
 */
export function parsePerfReport(text: string, threads?: ReadonlySet<number>): PerfSymbol[] {
  const out: PerfSymbol[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.includes("|")) continue;
    const [, samples, pid, dso, ...rest] = line.split("|");
    const count = Number(samples?.trim());
    const thread = Number(pid?.trim().split(":")[0]);
    if (!Number.isFinite(count) || !Number.isInteger(thread) || dso === undefined) continue;
    if (threads && !threads.has(thread)) continue;
    const symbol = rest.join("|").trim().replace(/^\[.\]\s*/, "");
    out.push({ samples: count, thread, dso: dso.trim(), symbol });
  }
  if (out.length === 0) throw new Error("perf report has no samples of the profiled threads");
  return out;
}

const THREADS =
  /ThreadPoolTempl|RunQueue|EventCount|futex|pthread_cond|pthread_mutex|gomp_|GOMP_|sched_yield|lll_lock|lll_unlock|__nptl|SpinWait|Barrier|Notifier/;
const PRODUCTS =
  /ynn::dot|sgemm|gemm|Gemm|GEMM|Contraction|contraction|brgemm|dnnl::impl::cpu::x64::(matmul|jit_avx512.*conv|.*convolution)|openblas|kernel_16x|mkl_blas|Conv2D|conv2d|convolution/;
const MEMORY =
  /memmove|memcpy|memset|malloc|_int_free|cfree|^free$|unlink_chunk|sysmalloc|Allocat|consolidate|^mmap|munmap|^brk|operator new|operator delete|TensorBlockIO.*Copy/;
const ELEMENTWISE =
  /^Eigen::|Eigen::internal|at::vec|mkl_vml|at::native|cpu_kernel|vectorized_loop|Sleef_|slinky::|ynn::|xnn_|_M_invoke|Reduce|reduce|Softmax|softmax/;

/**
 * The kind of work one symbol does.
 *
 * @param dso The shared object of the samples.
 * @param symbol The symbol (or a hex address).
 * @returns Its kind; "other" when no rule knows it (never a guess at a kernel).
 * @example
 * ```ts
 * import { workKind } from "./_perf_report.ts";
 * console.log(workKind("[JIT] tid 7", "jit_brgemm_kernel_t.6")); // "matrix products and convolutions"
 * console.log(workKind("libc.so.6", "__memmove_avx512_unaligned_erms")); // "memory: copy, fill, allocate"
 * ```
 */
export function workKind(dso: string, symbol: string): WorkKind {
  if (dso.startsWith("[kernel")) return "system (kernel)";
  if (dso.startsWith("[JIT]")) {
    if (/gemm|conv|matmul|inner_product/.test(symbol)) return "matrix products and convolutions";
    if (symbol.startsWith("jit_")) return "elementwise and reductions (library kernels)";
    if (/^JS:|^LazyCompile:|^Function:|^Builtin:|^py::/.test(symbol)) {
      return "interpreter (JavaScript or Python)";
    }
    return "compiled code (XLA or inductor)";
  }
  // torch.compile's inductor builds its kernels into hash-named libraries.
  if (/\.main\.so$|torchinductor/.test(dso)) return "compiled code (XLA or inductor)";
  if (/libgomp|libiomp/.test(dso)) return "threads: steal, wait, wake"; // OpenMP's spin-waits
  // Before the elementwise rule: Eigen's own pool (its template names also say ThreadPoolDevice).
  if (THREADS.test(symbol) && !/TensorExecutor|TensorEvaluator|EvalRange/.test(symbol)) {
    return "threads: steal, wait, wake";
  }
  if (PRODUCTS.test(symbol)) return "matrix products and convolutions";
  if (MEMORY.test(symbol)) return "memory: copy, fill, allocate";
  if (ELEMENTWISE.test(symbol)) return "elementwise and reductions (library kernels)";
  if (/python|libpython/.test(dso) || /^_?Py/.test(symbol)) {
    return "interpreter (JavaScript or Python)";
  }
  if (dso === "deno" || /^libv8/.test(dso)) return "interpreter (JavaScript or Python)";
  if (/torch|c10|tensorflow|tfjs_binding|libmkl|libdnnl/.test(dso)) return "framework dispatch";
  return "other";
}

/** A profile's samples by kind of work. */
export interface WorkShares {
  /** Samples in all. */
  total: number;
  /** Samples of each kind (every kind present, 0 where none). */
  samples: Record<WorkKind, number>;
  /** The symbols with most samples (summed over threads), in order, each with its kind. */
  top: { samples: number; dso: string; symbol: string; kind: WorkKind }[];
}

/**
 * Sums a profile's samples by kind of work.
 *
 * @param symbols The parsed report.
 * @param topCount How many of the busiest symbols to keep. @default 12
 * @returns Samples by kind and the busiest symbols.
 * @example
 * ```ts
 * import { workShares } from "./_perf_report.ts";
 * const shares = workShares([
 *   { samples: 3, thread: 7, dso: "libc.so.6", symbol: "memcpy" },
 *   { samples: 1, thread: 8, dso: "[kernel.kallsyms]", symbol: "schedule" },
 * ]);
 * console.log(shares.total, shares.samples["memory: copy, fill, allocate"]); // 4 3
 * ```
 */
export function workShares(symbols: readonly PerfSymbol[], topCount = 12): WorkShares {
  const samples = Object.fromEntries(WORK_KINDS.map((k) => [k, 0])) as Record<WorkKind, number>;
  const bySymbol = new Map<string, WorkShares["top"][number]>();
  let total = 0;
  for (const s of symbols) {
    const kind = workKind(s.dso, s.symbol);
    samples[kind] += s.samples;
    total += s.samples;
    // One entry per symbol over the threads (a [JIT] object is named after the thread that made it).
    const dso = s.dso.replace(/ tid \d+$/, "");
    const key = `${dso}|${s.symbol}`;
    const entry = bySymbol.get(key) ?? { samples: 0, dso, symbol: s.symbol, kind };
    entry.samples += s.samples;
    bySymbol.set(key, entry);
  }
  const top = [...bySymbol.values()].sort((a, b) => b.samples - a.samples).slice(0, topCount);
  return { total, samples, top };
}

/** A row of profile.csv (bench/profile.ts): one kind of work of one side of one workload. */
export interface ProfileRow {
  workload: string;
  side: string;
  steps_per_sec: number;
  kind: string;
  cpu_ms_per_step: number;
}

/**
 * profile.csv as a table to read: a row per kind of work (after one of steps/s), a column of CPU
 * ms per step per workload and side.
 *
 * @param rows profile.csv's rows.
 * @returns The table's rows (`kind`, then one column per "workload: side", in file order).
 * @example
 * ```ts
 * import { kindTable } from "./_perf_report.ts";
 * const table = kindTable([
 *   { workload: "w", side: "ours", steps_per_sec: 2, kind: "other", cpu_ms_per_step: 5 },
 * ]);
 * console.log(table[0]["w: ours"], table[1]["w: ours"]); // 2 5
 * ```
 */
export function kindTable(rows: readonly ProfileRow[]): Record<string, string | number>[] {
  const column = (r: ProfileRow) => `${r.workload}: ${r.side}`;
  const columns = [...new Set(rows.map(column))];
  const cell = (c: string, pick: (r: ProfileRow) => boolean, value: (r: ProfileRow) => number) => {
    const found = rows.find((r) => column(r) === c && pick(r));
    return found === undefined ? "" : value(found);
  };
  const kinds = [...new Set(rows.map((r) => r.kind))];
  return [
    {
      kind: "steps/s",
      ...Object.fromEntries(columns.map((c) => [c, cell(c, () => true, (r) => r.steps_per_sec)])),
    },
    ...kinds.map((kind) => ({
      kind: `${kind}, CPU ms per step`,
      ...Object.fromEntries(
        columns.map((c) => [c, cell(c, (r) => r.kind === kind, (r) => r.cpu_ms_per_step)]),
      ),
    })),
  ];
}
