/**
 * bench/profile.ts's reading of `perf report`: the parse, the kind of work of each symbol (with
 * the rules' negative controls), the sums, the table, and the refusal of an unknown workload.
 */
import assert from "node:assert/strict";
import {
  kindTable,
  parsePerfReport,
  WORK_KINDS,
  workKind,
  workShares,
} from "../bench/_perf_report.ts";
import { run } from "./_run.ts";

// Lines as `perf report -n --sort pid,dso,sym --stdio -t '|'` prints them (symbols shortened).
const REPORT = `# Samples: 12K of event 'cpu-clock:ppp'
#
# Overhead|     Samples|  Pid:Command|Shared Object               |Symbol
 8.05%  | 1004       |  21:deno    |[kernel.kallsyms]           |[k] pvm_irq_enable
 4.03%  | 502        |  21:deno    |[JIT] tid 20                |[.] jit_brgemm_kernel_t.6
 3.47%  | 433        |  22:deno    |libtensorflow_cc.so.2       |[.] std::_Function_handler<void (long, long), Eigen::internal::TensorExecutor<Eigen::TensorAssignOp<A, B>, Eigen::ThreadPoolDevice, true>::run>::_M_invoke
 2.24%  | 279        |  22:deno    |libtensorflow_framework.so.2|[.] Eigen::ThreadPoolTempl<tsl::thread::EigenEnvironment>::GlobalSteal
 1.41%  | 176        |  20:deno    |[JIT] tid 20                |[.] 0x00007fc731170116
 1.00%  | 125        |  20:deno    |libc.so.6                   |[.] __memmove_avx512_unaligned_erms
 0.50%  | 62         |  20:deno    |libstdc++.so.6              |[.] std::operator|(a, b)
 0.40%  | 50         |  22:deno    |[JIT] tid 20                |[.] jit_brgemm_kernel_t.6
 7.67%  | 1215       |   0:swapper |[kernel.kallsyms]           |[k] pvm_safe_halt_hc
 0.03%  | 5          | 999:sleep   |[kernel.kallsyms]           |[k] futex_wake
`;
const OURS = new Set([20, 21, 22]);

Deno.test("parsePerfReport reads samples, thread, object and symbol, keeps the given threads, refuses none", () => {
  const all = parsePerfReport(REPORT);
  assert.equal(all.length, 10);
  const rows = parsePerfReport(REPORT, OURS);
  assert.equal(rows.length, 8); // the idle loop and another process left out
  assert.deepEqual(rows[1], {
    samples: 502,
    thread: 21,
    dso: "[JIT] tid 20",
    symbol: "jit_brgemm_kernel_t.6",
  });
  assert.equal(rows[0].symbol, "pvm_irq_enable");
  assert.equal(rows[6].symbol, "std::operator|(a, b)"); // a bar inside a symbol stays in it
  assert.throws(() => parsePerfReport("# Samples: 0\n#\n"), /no samples/);
  assert.throws(() => parsePerfReport(REPORT, new Set([5])), /no samples of the profiled threads/);
});

Deno.test("workKind: each rule on a symbol it names, and its look-alikes kept out", () => {
  const products = "matrix products and convolutions";
  assert.equal(workKind("[JIT] tid 1", "jit_brgemm_kernel_t.6"), products);
  assert.equal(workKind("libtorch_cpu.so", "mkl_blas_def_sgemm_kernel_0_zen"), products);
  assert.equal(workKind("libtensorflow_cc.so.2", "ynn::dot_fp32_4x64x1_1x16x1_avx512f"), products);
  // An unnamed [JIT] address is compiled code; a named oneDNN reorder is a library kernel.
  assert.equal(workKind("[JIT] tid 1", "0x00007fc731170116"), "compiled code (XLA or inductor)");
  assert.equal(
    workKind("[JIT] tid 1", "jit_uni_reorder_kernel_f32.53"),
    "elementwise and reductions (library kernels)",
  );
  assert.equal(
    workKind("cnkty5kqaaf24exnq5ttqefgcwm.main.so", "kernel._omp_fn.0"),
    "compiled code (XLA or inductor)",
  );
  // Eigen's elementwise kernels name the ThreadPoolDevice they run on: not thread-pool time.
  const [, , elementwise, steal] = parsePerfReport(REPORT, OURS);
  assert.equal(workKind(elementwise.dso, elementwise.symbol), WORK_KINDS[1]);
  assert.equal(workKind(steal.dso, steal.symbol), "threads: steal, wait, wake");
  assert.equal(workKind("libgomp.so.1", "0x000000000001e02a"), "threads: steal, wait, wake");
  assert.equal(
    workKind("libc.so.6", "__memmove_avx512_unaligned_erms"),
    "memory: copy, fill, allocate",
  );
  assert.equal(workKind("[kernel.kallsyms]", "pvm_irq_enable"), "system (kernel)");
  assert.equal(workKind("libpython3.11.so", "_PyEval_EvalFrameDefault"), WORK_KINDS[6]);
  assert.equal(
    workKind("libtensorflow_framework.so.2", "tensorflow::Executor::Run"),
    WORK_KINDS[5],
  );
  // Negative controls: what no rule knows is "other", never a guessed kernel.
  assert.equal(workKind("libfoo.so", "compute_things"), "other");
  assert.equal(workKind("libstdc++.so.6", "std::operator|(a, b)"), "other");
});

Deno.test("workShares sums every sample once, by kind, and its top sums a symbol over threads", () => {
  const rows = parsePerfReport(REPORT, OURS);
  const shares = workShares(rows, 3);
  const total = rows.reduce((s, r) => s + r.samples, 0);
  assert.equal(shares.total, total);
  assert.equal(Object.values(shares.samples).reduce((s, v) => s + v, 0), total);
  assert.deepEqual(Object.keys(shares.samples), [...WORK_KINDS]);
  assert.equal(shares.samples["compiled code (XLA or inductor)"], 176);
  assert.equal(shares.samples["matrix products and convolutions"], 552);
  assert.deepEqual(shares.top.map((t) => t.samples), [1004, 552, 433]);
  assert.equal(shares.top[1].dso, "[JIT]");
});

Deno.test("kindTable: steps/s first, then a row per kind, a column per workload and side", () => {
  const row = (workload: string, side: string, kind: string, ms: number) => ({
    workload,
    side,
    steps_per_sec: side === "ours" ? 5 : 3,
    kind,
    cpu_ms_per_step: ms,
  });
  const table = kindTable([
    row("w", "ours", "other", 1),
    row("w", "ours", "system (kernel)", 2),
    row("w", "torch", "other", 3),
    row("w", "torch", "system (kernel)", 4),
  ]);
  assert.deepEqual(table, [
    { kind: "steps/s", "w: ours": 5, "w: torch": 3 },
    { kind: "other, CPU ms per step", "w: ours": 1, "w: torch": 3 },
    { kind: "system (kernel), CPU ms per step", "w: ours": 2, "w: torch": 4 },
  ]);
});

Deno.test("deno task profile refuses an unknown workload in one line, before it needs perf", async () => {
  const ran = await run("deno", ["run", "-A", "bench/profile.ts", "--workloads=prior-train,nope"]);
  assert.equal(ran.code, 2);
  assert.equal(
    ran.stderr.trim(),
    'error: unknown workload "nope"; known: prior-train, prior-sample, dvae-train',
  );
});
