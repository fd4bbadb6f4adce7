/**
 * Replaces the tfjs `cpu` backend's wrong `ResizeNearestNeighborGrad` (4.22: 2× nearest
 * upsampling at batch 2 is off by 3.6 against finite differences) with the scatter-add of
 * `_js_kernels.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ResizeAttrs, resizeNearestGrad } from "./_js_kernels.ts";

type Info = tf.TensorInfo;
interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: unknown): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): Info;
}

function resizeNearestNeighborGrad(
  { inputs, backend, attrs }: {
    inputs: Record<string, Info>;
    backend: tf.KernelBackend;
    attrs?: unknown;
  },
): Info {
  const { images, dy } = inputs;
  const cpu = backend as CpuBackend;
  const dx = resizeNearestGrad(
    cpu.data.get(dy.dataId).values,
    dy.shape,
    images.shape,
    attrs as ResizeAttrs,
  );
  return cpu.makeTensorInfo([...images.shape], "float32", dx);
}

let registered = false;

/** Registers the corrected cpu kernels; idempotent. `initBackend("cpu")` calls it. */
export function registerCpuFixes(): void {
  if (registered) return;
  tf.unregisterKernel("ResizeNearestNeighborGrad", "cpu");
  tf.registerKernel({
    kernelName: "ResizeNearestNeighborGrad",
    backendName: "cpu",
    kernelFunc: resizeNearestNeighborGrad as unknown as tf.KernelFunc,
  });
  registered = true;
}
