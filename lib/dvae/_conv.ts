/**
 * A stride-1, "same"-padded convolution with bias (and optionally a ReLU) whose gradient is built
 * from fast kernels, because on tfjs-backend-wasm the stock gradient is slow:
 * - wasm's `Conv2DBackpropInput` is a plain loop, ~10× slower than its XNNPACK `Conv2D`; for an odd
 *   kernel with symmetric padding, dx is exactly a forward conv of dy with the kernel flipped in
 *   space and its in/out axes swapped;
 * - for 1×1 kernels, dW = xᵀ·dy is a single GEMM after transposing the narrower of x and dy
 *   (wasm transposes are the expensive part);
 * - the first layer needs no dx at all (its input is the image), so it can skip it.
 * Wider kernels use the `Conv2DBackpropFilter` kernel lib/backend registers.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/** What tf.customGrad takes; its typings cannot name our fixed arity. */
type CustomGradFn = Parameters<typeof tf.customGrad>[0];

type Grad = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];

/** dW of a k×k stride-1 "same" conv. */
function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, kernel: number): tf.Tensor4D {
  const ci = x.shape[3];
  const co = dy.shape[3];
  if (kernel !== 1) {
    return tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: 1,
      pad: "same",
      dataFormat: "NHWC",
      dimRoundingMode: undefined,
      filterShape: [kernel, kernel, ci, co],
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  const n = x.size / ci;
  // dW = xᵀ·dy as one GEMM; only the narrower operand pays for the transpose.
  if (ci <= co) {
    const g = tf.matMul(x.reshape([n, ci]).transpose(), dy.reshape([n, co])); // (ci, co)
    return g.reshape([1, 1, ci, co]);
  }
  const g = tf.matMul(dy.reshape([n, co]).transpose(), x.reshape([n, ci])); // (co, ci)
  return g.transpose().reshape([1, 1, ci, co]);
}

const variants = new Map<string, (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

function variant(relu: boolean, inputGrad: boolean) {
  const key = `${relu}/${inputGrad}`;
  let op = variants.get(key);
  if (op) return op;
  op = tf.customGrad(
    ((x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
      const y = tf.fused.conv2d({
        x,
        filter: w,
        bias: b,
        strides: 1,
        pad: "same",
        activation: relu ? "relu" : "linear",
      });
      save([x, w, y]);
      const gradFunc: Grad = (dy, saved) => {
        const [xs, ws, ys] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const dyPre = (relu ? dy.mul(tf.step(ys)) : dy) as tf.Tensor4D; // ReLU passes where y > 0
        const kernel = ws.shape[0];
        const dx = inputGrad
          ? tf.conv2d(
            dyPre,
            tf.reverse(ws, [0, 1]).transpose([0, 1, 3, 2]) as tf.Tensor4D,
            1,
            "same",
          )
          : tf.zerosLike(xs);
        return [dx, filterGrad(xs, dyPre, kernel), dyPre.sum([0, 1, 2])];
      };
      return { value: y, gradFunc };
    }) as unknown as CustomGradFn,
  ) as unknown as (
    x: tf.Tensor,
    w: tf.Tensor,
    b: tf.Tensor,
  ) => tf.Tensor;
  variants.set(key, op);
  return op;
}

let fastGradients = true;

/**
 * Switches between the fast gradients of this file (the default) and tfjs's own conv gradients,
 * for benchmarks and for checking one against the other.
 *
 * @param enabled true: fast gradients; false: tfjs's stock ones.
 * @returns The previous setting.
 * @example
 * ```ts
 * import { setFastConvGradients } from "./_conv.ts";
 * const previous = setFastConvGradients(false); // stock tfjs gradients from here on
 * setFastConvGradients(previous);
 * ```
 */
export function setFastConvGradients(enabled: boolean): boolean {
  const previous = fastGradients;
  fastGradients = enabled;
  return previous;
}

/**
 * y = [ReLU](conv(x, W) + b), stride 1, "same" padding, odd square kernel, with fast gradients.
 *
 * @param x `(B, H, W, Cin)`.
 * @param weight `(k, k, Cin, Cout)`, k odd.
 * @param bias `(Cout)`.
 * @param options `relu` applies a ReLU to the output @default false; `inputGrad` false returns a
 *   zero gradient for x (for a first layer whose input is data) @default true.
 * @returns `(B, H, W, Cout)`.
 */
export function convSame(
  x: tf.Tensor4D,
  weight: tf.Tensor4D,
  bias: tf.Tensor1D,
  options: { relu?: boolean; inputGrad?: boolean } = {},
): tf.Tensor4D {
  const k = weight.shape[0];
  if (k % 2 !== 1 || weight.shape[1] !== k) {
    throw new RangeError(`convSame needs an odd square kernel, got [${weight.shape}]`);
  }
  if (!fastGradients) {
    return tf.fused.conv2d({
      x,
      filter: weight,
      bias,
      strides: 1,
      pad: "same",
      activation: options.relu ? "relu" : "linear",
    });
  }
  return variant(options.relu ?? false, options.inputGrad ?? true)(x, weight, bias) as tf.Tensor4D;
}
