/**
 * Opening a training run's folder: a new one, or, with `--resume=RUN_DIR`, the folder of a run
 * that stopped, its metrics cut back to its last checkpoint (lib/log's `resumableFlags` restores
 * its configuration).
 *
 * @module
 */
import { RunLog, type RunLogOptions } from "../log/mod.ts";
import { checkpointStep } from "./trainer.ts";

/**
 * Where a run folder keeps its checkpoint.
 *
 * @param dir The run folder.
 * @returns The checkpoint's path.
 */
export function checkpointOf(dir: string): string {
  return `${dir}/checkpoint.safetensors`;
}

/**
 * The run's log: a new run folder, or (with `resume`) the stopped run's folder, its metrics cut
 * back to the step of its checkpoint (all of them when it has none), refusing another
 * experiment's run.
 *
 * @param options RunLog's options and `resume`: a run folder, or "" / undefined.
 * @returns The log; pass `resume: true` to the trainer to continue from its checkpoint.
 */
export async function openRunLog(options: RunLogOptions & { resume?: string }): Promise<RunLog> {
  const { resume, ...create } = options;
  if (!resume) return await RunLog.create(create);
  const fromStep = await checkpointStep(checkpointOf(resume)).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  });
  return await RunLog.resume(resume, {
    experiment: options.experiment,
    fromStep,
    printEvery: options.printEvery,
    totalSteps: options.totalSteps,
    flushEvery: options.flushEvery,
  });
}
