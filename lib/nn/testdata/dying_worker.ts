/**
 * For `parallel_test.ts`: starts a pool of one worker, whose worker dies mid-step. The step must
 * end with the named timeout error (and this process with it, non-zero), never hang.
 *
 * @module
 */
import { GradientWorkers } from "../parallel.ts";
import { meanReducer } from "../reduce.ts";

const pool = await GradientWorkers.start(1, {
  taskUrl: new URL("./faulty_task.ts", import.meta.url).href,
  config: {},
  backend: "cpu",
  reducer: meanReducer(),
  context: { shapes: [[2]], names: ["w"], shards: 2 },
  minStepTimeoutMs: 1000,
  stepTimeoutFactor: 4,
});
const x = new Float32Array([1, 2]);
await pool.step(0, [new Float32Array(2)], x, { mode: "ok" }); // the worker serves…
await pool.step(0, [new Float32Array(2)], x, { mode: "die" }); // …then dies mid-step
console.log("unreachable: the step after the worker died returned");
