/**
 * Replaces the tfjs `cpu` backend's wrong `ResizeNearestNeighborGrad` (4.22: 2× nearest
 * upsampling at batch 2 is off by 3.6 against finite differences) and its wrong `AvgPoolGrad` on
 * padded pools (it divides every window's gradient by the full window size, where the forward op
 * averages over the cells inside the image: a [2, 7, 7, 3] 3×3/2 "same" pool's gradient is off by
 * 62% against finite differences) with the scatter-adds of `_js_kernels.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  avgPoolGradInto,
  poolInfo,
  type ResizeAttrs,
  resizeNearestGrad,
  windowsInside,
} from "./_js_kernels.ts";

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

type KernelArgs = Parameters<typeof resizeNearestNeighborGrad>[0];
type CpuKernel = (args: KernelArgs) => Info;

/** dx of an average pool: the stock kernel where every window is full, else the scatter-add. */
function avgPoolGrad(stock: CpuKernel): CpuKernel {
  return (args) => {
    const { dy, input } = args.inputs;
    const info = poolInfo(input.shape, args.attrs);
    if (windowsInside(info)) return stock(args);
    const cpu = args.backend as CpuBackend;
    const dx = new Float32Array(input.shape.reduce((a, b) => a * b, 1));
    avgPoolGradInto(cpu.data.get(dy.dataId).values, info, dx);
    return cpu.makeTensorInfo([...input.shape], "float32", dx);
  };
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
  const stockAvgPoolGrad = tf.getKernel("AvgPoolGrad", "cpu");
  if (stockAvgPoolGrad) {
    tf.unregisterKernel("AvgPoolGrad", "cpu");
    tf.registerKernel({
      kernelName: "AvgPoolGrad",
      backendName: "cpu",
      kernelFunc: avgPoolGrad(
        stockAvgPoolGrad.kernelFunc as unknown as CpuKernel,
      ) as unknown as tf.KernelFunc,
    });
  }
  registered = true;
}
