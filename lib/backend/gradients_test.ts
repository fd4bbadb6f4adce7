/**
 * The gradient of every op the trainers differentiate through, checked against central finite
 * differences at batch > 1 on every backend that starts (tensorflow where it is built; wasm and
 * cpu always).
 *
 * For each case the loss is L(x) = Σ f(x) · p with a fixed random probe p, so every output element
 * weighs differently. tf.grads gives the analytic ∂L/∂x; two finite-difference checks compare it:
 * - coordinates: (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h on a random subset of coordinates (all of them
 *   for small or sparse cases), error max |analytic − fd| / max(|analytic|, |fd|) over the subset;
 * - a direction: (L(x + h·v) − L(x − h·v)) / 2h against ⟨∂L/∂x, v⟩ for a random v over every
 *   coordinate at once, error |analytic − fd| / ‖∂L/∂x‖₂, so a gradient misplaced anywhere shows.
 * In float32 the differences are taken output by output before the probe's weighted sum, which is
 * done in float64, and h is the actual perturbation after rounding x ± h to float32.
 *
 * Max-pool inputs are a scaled random permutation (no two values within 0.1), and ReLU/abs inputs
 * stay 0.1 away from 0, so no perturbation moves an argmax or crosses a kink. Tolerances are
 * ~10× what the correct kernels measure here; negative controls check that the stock kernels
 * lib/backend replaces fail by far: wasm's `MaxPoolGrad` (a [2, 4, 4, 3] pool's gradient summing
 * to 22–23 of 24), wasm's and cpu's `AvgPoolGrad` (padded pools) and cpu's
 * `ResizeNearestNeighborGrad`.
 *
 * The op × backend table of errors is printed at the end and written to data/gradients_table.md.
 *
 * @module
 */
import assert from "node:assert/strict";
import { initBackend, tf } from "./mod.ts";
import { Rng } from "../io/mod.ts";
import { gelu } from "../nn/mod.ts";
import {
  gaussianNll,
  gumbelSoftmax,
  klToUniform,
  logitLaplaceNll,
  marginalKlToUniform,
} from "../dvae/objective.ts";

/** How a case's float input is drawn. */
type Kind =
  | "normal" // N(0, 1)
  | "distinct" // a random permutation of 0 … n − 1, times 0.1: no near-ties for max-pool
  | "away" // N(0, 1) pushed 0.1 away from 0: no kink of ReLU or |·| within reach
  | "positive" // uniform in [0.5, 2]: log, sqrt
  | "unit"; // uniform in [0.15, 0.85]: pixels

interface InputSpec {
  shape: number[];
  kind?: Kind;
}

interface OpCase {
  /** Row label of the table. */
  name: string;
  /** The differentiated inputs. */
  inputs: InputSpec[];
  /** The op; constants (ids, masks) are built inside it. */
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Finite-difference step. @default 4e-3 */
  h?: number;
  /** Largest relative error that passes. @default 2e-3 */
  tol?: number;
  /** Coordinates checked per input. @default 24 */
  coords?: number | "all";
  /** Backends without the gradient kernel, and why the trainers do not need it. */
  unsupported?: Record<string, string>;
}

/** ids with repeats on purpose: their gradients must add up. */
const IDS = [3, 1, 3, 0, 6, 3, 1, 2, 6, 6, 0, 3];
/** A permutation of 6 stream positions that is its own inverse, like the column layers' one. */
const PERM = [0, 3, 2, 1, 5, 4];

const conv = (stride: 1 | 2, pad: "same" | "valid") => (x: tf.Tensor, w: tf.Tensor) =>
  tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad);

const CASES: OpCase[] = [
  // Pooling: the dVAE encoder (max 2×2/2), the judge (avg 2×2/2).
  {
    name: "maxPool 2×2/2 valid [2,4,4,3]",
    inputs: [{ shape: [2, 4, 4, 3], kind: "distinct" }],
    f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, "valid"),
    coords: "all",
  },
  {
    name: "maxPool 2×2/2 valid [3,8,8,5]",
    inputs: [{ shape: [3, 8, 8, 5], kind: "distinct" }],
    f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, "valid"),
    coords: 48,
  },
  {
    name: "maxPool 3×3/2 same [2,7,7,3]",
    inputs: [{ shape: [2, 7, 7, 3], kind: "distinct" }],
    f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, "same"),
    coords: "all",
  },
  {
    name: "avgPool 2×2/2 valid",
    inputs: [{ shape: [2, 6, 6, 3] }],
    f: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, "valid"),
  },
  {
    name: "avgPool 3×3/2 same",
    inputs: [{ shape: [2, 7, 7, 3] }],
    f: (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, "same"),
  },
  // Convolutions, input and filter gradients: dVAE (7×7, 3×3, 1×1 at stride 1, same), judge
  // (4×4 and 3×3 at stride 2, same).
  {
    name: "conv2d 3×3/1 same (dx, dW)",
    inputs: [{ shape: [2, 6, 6, 3] }, { shape: [3, 3, 3, 4] }],
    f: conv(1, "same"),
  },
  {
    name: "conv2d 3×3/1 valid (dx, dW)",
    inputs: [{ shape: [2, 6, 5, 3] }, { shape: [3, 3, 3, 4] }],
    f: conv(1, "valid"),
  },
  {
    name: "conv2d 3×3/2 same (dx, dW)",
    inputs: [{ shape: [2, 7, 7, 3] }, { shape: [3, 3, 3, 4] }],
    f: conv(2, "same"),
  },
  {
    name: "conv2d 3×3/2 same, even side (dx, dW)",
    inputs: [{ shape: [2, 8, 8, 3] }, { shape: [3, 3, 3, 4] }],
    f: conv(2, "same"),
  },
  {
    name: "conv2d 3×3/2 valid (dx, dW)",
    inputs: [{ shape: [2, 8, 7, 3] }, { shape: [3, 3, 3, 4] }],
    f: conv(2, "valid"),
  },
  {
    name: "conv2d 4×4/2 same (dx, dW)",
    inputs: [{ shape: [2, 8, 8, 2] }, { shape: [4, 4, 2, 3] }],
    f: conv(2, "same"),
  },
  {
    name: "conv2d 7×7/1 same (dx, dW)",
    inputs: [{ shape: [2, 8, 8, 3] }, { shape: [7, 7, 3, 4] }],
    f: conv(1, "same"),
  },
  {
    name: "conv2d 1×1/1 (dx, dW)",
    inputs: [{ shape: [3, 4, 4, 5] }, { shape: [1, 1, 5, 6] }],
    f: conv(1, "same"),
  },
  {
    name: "fused conv2d 3×3 + bias + relu (dx, dW, db)",
    inputs: [{ shape: [2, 6, 6, 3] }, { shape: [3, 3, 3, 4] }, { shape: [4] }],
    // The dVAE's convBias. A kink of the fused ReLU can sit within h of a perturbed output:
    // a small h keeps that unlikely, and the inputs are fixed, so the check is repeatable.
    f: (x, w, b) =>
      tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: w as tf.Tensor4D,
        bias: b,
        strides: 1,
        pad: "same",
        activation: "relu",
      }),
    h: 1e-3,
  },
  {
    name: "fused conv2d 1×1 + bias (dx, dW, db)",
    inputs: [{ shape: [2, 4, 4, 6] }, { shape: [1, 1, 6, 5] }, { shape: [5] }],
    f: (x, w, b) =>
      tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: w as tf.Tensor4D,
        bias: b,
        strides: 1,
        pad: "same",
      }),
  },
  {
    name: "depthwiseConv2d 3×3/1 (dx, dW)",
    inputs: [{ shape: [2, 6, 6, 3] }, { shape: [3, 3, 3, 2] }],
    f: (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "valid"),
    unsupported: {
      wasm: "no DepthwiseConv2dNativeBackprop kernels; only the judge's augmentation uses " +
        "depthwiseConv2d, outside the gradient",
    },
  },
  // Upsampling: the dVAE decoder.
  {
    name: "resizeNearestNeighbor 2× [2,3,3,4]",
    inputs: [{ shape: [2, 3, 3, 4] }],
    f: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [6, 6]),
  },
  {
    name: "resizeNearestNeighbor 2× [3,2,4,2]",
    inputs: [{ shape: [3, 2, 4, 2] }],
    f: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [4, 8]),
    coords: "all",
  },
  // Gathers: embeddings (repeated ids), the column layers' permutation.
  {
    name: "gather rows (embedding, repeated ids)",
    inputs: [{ shape: [7, 5] }],
    f: (table) => tf.gather(table, tf.tensor1d(IDS, "int32")).reshape([3, 4, 5]),
    coords: "all",
  },
  {
    name: "gather axis 1 (permutation)",
    inputs: [{ shape: [2, 6, 4] }],
    f: (x) => tf.gather(x, tf.tensor1d(PERM, "int32"), 1),
  },
  // Products: Linear (2-D), attention (rank 4 with transposes), fused bias.
  {
    name: "matMul [5,4]·[4,3]",
    inputs: [{ shape: [5, 4] }, { shape: [4, 3] }],
    f: (a, b) => tf.matMul(a, b),
  },
  {
    name: "matMul transposeA",
    inputs: [{ shape: [4, 5] }, { shape: [4, 3] }],
    f: (a, b) => tf.matMul(a, b, true, false),
  },
  {
    name: "matMul transposeB",
    inputs: [{ shape: [5, 4] }, { shape: [3, 4] }],
    f: (a, b) => tf.matMul(a, b, false, true),
  },
  {
    name: "matMul transposeA+B",
    inputs: [{ shape: [4, 5] }, { shape: [3, 4] }],
    f: (a, b) => tf.matMul(a, b, true, true),
  },
  {
    name: "batched matMul rank 3",
    inputs: [{ shape: [3, 4, 5] }, { shape: [3, 5, 2] }],
    f: (a, b) => tf.matMul(a, b),
  },
  {
    name: "batched matMul rank 3 transposeA",
    inputs: [{ shape: [3, 5, 4] }, { shape: [3, 5, 2] }],
    f: (a, b) => tf.matMul(a, b, true, false),
  },
  {
    name: "batched matMul rank 4 q·kᵀ",
    inputs: [{ shape: [2, 3, 4, 5] }, { shape: [2, 3, 6, 5] }],
    f: (q, k) => tf.matMul(q, k, false, true),
  },
  {
    name: "batched matMul rank 4 p·v",
    inputs: [{ shape: [2, 3, 4, 6] }, { shape: [2, 3, 6, 5] }],
    f: (p, v) => tf.matMul(p, v),
  },
  {
    name: "fused matMul + bias (Linear)",
    inputs: [{ shape: [6, 4] }, { shape: [4, 3] }, { shape: [3] }],
    f: (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias }),
  },
  // Normalisations and losses.
  {
    name: "softmax (rank 4, last axis)",
    inputs: [{ shape: [2, 2, 3, 5] }],
    f: (x) => tf.softmax(x),
  },
  {
    name: "logSoftmax (rank 3)",
    inputs: [{ shape: [2, 3, 7] }],
    f: (x) => tf.logSoftmax(x),
  },
  {
    name: "logSumExp (last axis)",
    inputs: [{ shape: [3, 4, 6] }],
    f: (x) => tf.logSumExp(x, -1),
  },
  {
    name: "cross-entropy (logSoftmax · oneHot, prior)",
    inputs: [{ shape: [2, 6, 7] }],
    // Per target, before the mean: a scalar output would leave the differences to its rounding.
    f: (x) => tf.logSoftmax(x).mul(tf.oneHot(tf.tensor2d(IDS, [2, 6], "int32"), 7)).sum(-1).neg(),
  },
  {
    name: "softmaxCrossEntropy, weighted (judge)",
    inputs: [{ shape: [4, 5] }],
    f: (x) =>
      tf.losses.softmaxCrossEntropy(
        tf.oneHot(tf.tensor1d([1, 4, 0, 2], "int32"), 5),
        x,
        tf.tensor1d([1, 0, 1, 1]),
        0,
        tf.Reduction.NONE,
      ),
  },
  {
    name: "layer norm (mean, centre, rsqrt, gain, bias)",
    inputs: [{ shape: [2, 3, 8] }, { shape: [8] }, { shape: [8] }],
    // lib/nn's LayerNorm.apply, with its gain and bias as inputs.
    f: (x, gain, bias) => {
      const centred = x.sub(x.mean(-1, true));
      const variance = centred.square().mean(-1, true);
      return centred.mul(tf.rsqrt(variance.add(1e-5))).mul(gain).add(bias);
    },
  },
  {
    name: "klToUniform + marginalKl (dVAE)",
    inputs: [{ shape: [2, 2, 2, 6] }],
    f: (x) => klToUniform(x).add(marginalKlToUniform(x)),
    h: 1e-2, // the marginal KL is one scalar for the whole batch: a wider step beats its rounding
  },
  {
    name: "gumbelSoftmax τ=0.7, seeded (dVAE)",
    inputs: [{ shape: [2, 3, 6] }],
    f: (x) => gumbelSoftmax(x, 0.7, { seed: 42 }),
  },
  {
    name: "logitLaplaceNll (dμ, d ln b)",
    inputs: [{ shape: [2, 3, 3, 3] }, { shape: [2, 3, 3, 3] }],
    f: (mu, logB) => logitLaplaceNll(tf.fill(mu.shape, 0.37), mu, logB),
  },
  {
    name: "gaussianNll ∘ sigmoid (dVAE mse)",
    inputs: [{ shape: [2, 3, 3, 3] }],
    f: (x) => gaussianNll(tf.fill(x.shape, 0.62), tf.sigmoid(x)),
  },
  // Cumulative sums: lib/prior/sample.ts's top-p filter (exclusive, last axis of (B, V)), and
  // every variant along a middle axis, where tfjs-core's own gradient is wrong (_gradients.ts).
  {
    name: "cumsum exclusive, last axis",
    inputs: [{ shape: [3, 7] }],
    f: (x) => tf.cumsum(x, 1, true),
  },
  {
    name: "cumsum exclusive reverse, last axis",
    inputs: [{ shape: [3, 7] }],
    f: (x) => tf.cumsum(x, 1, true, true),
  },
  {
    name: "cumsum, middle axis",
    inputs: [{ shape: [2, 5, 3] }],
    f: (x) => tf.cumsum(x, 1),
  },
  {
    name: "cumsum exclusive, middle axis",
    inputs: [{ shape: [2, 5, 3] }],
    f: (x) => tf.cumsum(x, 1, true),
  },
  {
    name: "cumsum reverse, middle axis",
    inputs: [{ shape: [2, 5, 3] }],
    f: (x) => tf.cumsum(x, 1, false, true),
  },
  {
    name: "cumsum exclusive reverse, middle axis [2,4,4]",
    // Square on the swapped axes: tfjs-core's gradient is silently transposed here, not a throw.
    inputs: [{ shape: [2, 4, 4] }],
    f: (x) => tf.cumsum(x, 1, true, true),
  },
  {
    name: "tile [1,1,1,3]",
    inputs: [{ shape: [2, 3, 3, 1] }],
    f: (x) => tf.tile(x, [1, 1, 1, 3]),
    coords: "all",
  },
  {
    name: "tile [2,1,3]",
    inputs: [{ shape: [2, 3, 2] }],
    f: (x) => tf.tile(x, [2, 1, 3]),
    coords: "all",
  },
  // Activations and elementwise maths.
  {
    name: "relu",
    inputs: [{ shape: [2, 4, 5], kind: "away" }],
    f: (x) => tf.relu(x),
  },
  {
    name: "gelu (exact, erf)",
    inputs: [{ shape: [2, 4, 5] }],
    f: (x) => gelu(x),
  },
  {
    name: "sigmoid",
    inputs: [{ shape: [2, 4, 5] }],
    f: (x) => tf.sigmoid(x),
  },
  {
    name: "exp",
    inputs: [{ shape: [2, 4, 5] }],
    f: (x) => tf.exp(x),
  },
  {
    name: "log, log1p(−y)",
    inputs: [{ shape: [2, 4, 5], kind: "unit" }],
    f: (y) => tf.log(y).sub(tf.log1p(y.neg())),
  },
  {
    name: "abs",
    inputs: [{ shape: [2, 4, 5], kind: "away" }],
    f: (x) => tf.abs(x),
  },
  {
    name: "sqrt, square",
    inputs: [{ shape: [2, 4, 5], kind: "positive" }],
    f: (x) => tf.sqrt(x).add(tf.square(x)),
  },
  {
    name: "maximum, div (judge colour pooling)",
    inputs: [{ shape: [2, 3, 4] }, { shape: [2, 3, 1], kind: "away" }],
    f: (a, b) => a.div(b.abs().maximum(0.05)),
  },
  {
    name: "broadcast add, mul, sub",
    inputs: [{ shape: [2, 3, 4] }, { shape: [4] }, { shape: [3, 1] }],
    f: (x, b, g) => x.add(b).mul(g).sub(b),
  },
  {
    name: "dropout 0.25, seeded",
    inputs: [{ shape: [2, 4, 5] }],
    f: (x) => tf.dropout(x, 0.25, undefined, 9),
    coords: "all",
  },
  // Reductions and shape ops.
  {
    name: "sum over [1,2]",
    inputs: [{ shape: [2, 3, 4, 2] }],
    f: (x) => x.sum([1, 2]),
  },
  {
    name: "mean (all, last axis)",
    inputs: [{ shape: [2, 3, 4] }],
    f: (x) => x.mean(-1).add(x.mean()),
  },
  {
    name: "concat axis 1",
    inputs: [{ shape: [2, 3, 4] }, { shape: [2, 2, 4] }],
    f: (a, b) => tf.concat([a, b], 1),
  },
  {
    name: "slice (last axis, middle axis)",
    inputs: [{ shape: [2, 4, 3, 6] }],
    f: (x) => x.slice([0, 1, 0, 3], [-1, 2, -1, 3]).reshape([2, 2, 9]).slice([0, 1, 2], [2, 1, 5]),
  },
  {
    name: "transpose rank 4 and rank 5",
    inputs: [{ shape: [2, 3, 2, 4] }],
    f: (x) =>
      x.transpose([0, 2, 1, 3]).reshape([2, 2, 3, 2, 2]).transpose([2, 0, 3, 1, 4]).mul(x.sum()),
  },
  {
    name: "split + 4-D transposes (the prior's q, k, v)",
    inputs: [{ shape: [2, 3, 12] }],
    f: (x) => {
      const [q, k, v] = tf.split(x, 3, 2).map((part) =>
        part.reshape([2, 3, 2, 2]).transpose([0, 2, 1, 3])
      );
      return q.mul(k).add(v);
    },
  },
];

/** Which backends start here; tensorflow is absent where `.ci/setup` could not build it. */
const tensorflowMissing: string | null = await initBackend("tensorflow").then(
  () => null,
  (err: Error) => err.message.split("\n")[0],
);
const BACKENDS = ["tensorflow", "wasm", "cpu"] as const;
type Backend = typeof BACKENDS[number];

/**
 * Negative controls: the stock tfjs kernels lib/backend replaces, which must fail these checks by
 * far. Each is captured at load, before `initBackend` replaces it, and registered under another
 * name; the control's op runs the case's forward op with that kernel as its gradient.
 */
interface Control {
  backend: "wasm" | "cpu";
  kernel: string;
  /** The case whose data and probe the control reuses. */
  caseName: string;
  forward: (x: tf.Tensor4D) => tf.Tensor4D;
  /** The stock kernel's inputs and attributes for dy, x and the forward output y. */
  args: (dy: tf.Tensor, x: tf.Tensor, y: tf.Tensor) => [tf.NamedTensorMap, tf.NamedAttrMap];
}

const pool = { filterSize: 2, strides: 2, pad: "valid" } as const;
const samePool = { filterSize: 3, strides: 2, pad: "same" } as const;
const CONTROLS: Control[] = [
  {
    backend: "wasm",
    kernel: "MaxPoolGrad",
    caseName: "maxPool 2×2/2 valid [2,4,4,3]",
    forward: (x) => tf.maxPool(x, 2, 2, "valid"),
    args: (dy, input, output) => [{ dy, input, output }, pool],
  },
  {
    backend: "wasm",
    kernel: "AvgPoolGrad",
    caseName: "avgPool 3×3/2 same",
    forward: (x) => tf.avgPool(x, 3, 2, "same"),
    args: (dy, input) => [{ dy, input }, samePool],
  },
  {
    backend: "cpu",
    kernel: "AvgPoolGrad",
    caseName: "avgPool 3×3/2 same",
    forward: (x) => tf.avgPool(x, 3, 2, "same"),
    args: (dy, input) => [{ dy, input }, samePool],
  },
  {
    backend: "cpu",
    kernel: "ResizeNearestNeighborGrad",
    caseName: "resizeNearestNeighbor 2× [2,3,3,4]",
    forward: (x) => tf.image.resizeNearestNeighbor(x, [6, 6]),
    args: (dy, images) => [{ images, dy }, { alignCorners: false, halfPixelCenters: false }],
  },
];

const stockName = (c: Control) => `DalleLabStock${c.kernel}`;
/** Controls whose stock kernel was still registered at load (not yet replaced in this process). */
const stockAvailable = new Set(CONTROLS.filter((c) => {
  const config = tf.getKernel(c.kernel, c.backend) as tf.KernelConfig & { dalleLab?: boolean };
  if (!config || config.dalleLab) return false;
  if (!tf.getKernel(stockName(c), c.backend)) {
    // The stock kernel's setupFunc (wasm's cwrap) has run, or will, under its own name.
    tf.registerKernel({ ...config, kernelName: stockName(c), setupFunc: undefined });
  }
  return true;
}));
if (stockAvailable.size < CONTROLS.length) {
  console.warn("gradients: stock kernels already replaced in this process; some controls skipped");
}

/** A case's fixed data: inputs, probe, coordinates and direction, the same on every backend. */
interface Prepared {
  values: Float32Array[];
  probe: Float32Array | null; // made on first use, once the output size is known
  coords: number[][];
  direction: Float32Array[];
}

function draw(rng: Rng, spec: InputSpec): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  switch (spec.kind ?? "normal") {
    case "normal":
      for (let i = 0; i < n; i++) out[i] = rng.normal();
      break;
    case "distinct": {
      const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
      for (let i = 0; i < n; i++) out[i] = 0.1 * (order[i] - n / 2);
      break;
    }
    case "away":
      for (let i = 0; i < n; i++) {
        const z = rng.normal();
        out[i] = Math.sign(z || 1) * (0.1 + Math.abs(z));
      }
      break;
    case "positive":
      for (let i = 0; i < n; i++) out[i] = 0.5 + 1.5 * rng.next();
      break;
    case "unit":
      for (let i = 0; i < n; i++) out[i] = 0.15 + 0.7 * rng.next();
      break;
  }
  return out;
}

const prepared = new Map<string, Prepared>();

function prepare(c: OpCase, index: number): Prepared {
  let p = prepared.get(c.name);
  if (p) return p;
  const rng = new Rng(1000 + index);
  const values = c.inputs.map((spec) => draw(rng, spec));
  const coords = values.map((v) => {
    const all = Array.from({ length: v.length }, (_, i) => i);
    const want = c.coords === "all" ? v.length : Math.min(v.length, c.coords ?? 24);
    return rng.shuffle(all).slice(0, want).sort((a, b) => a - b);
  });
  const direction = values.map((v) => Float32Array.from(v, () => rng.normal()));
  p = { values, probe: null, coords, direction };
  prepared.set(c.name, p);
  return p;
}

/** Σ (a − b)·p in float64 over float32 outputs. */
function weightedDiff(a: Float32Array, b: Float32Array, p: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) * p[i];
  return s;
}

/** Errors of one case on the current backend: coordinates and direction, worst input. */
interface Measured {
  coords: number;
  direction: number;
}

/**
 * Checks one case on the current backend.
 *
 * @param f The op (a case's, or a replacement such as the negative control's).
 */
function measure(c: OpCase, index: number, f = c.f): Measured {
  const p = prepare(c, index);
  const xs = p.values.map((v, i) => tf.tensor(v, c.inputs[i].shape));
  try {
    const evalAt = (i: number, v: Float32Array) =>
      tf.tidy(() => {
        const args = xs.map((x, j) => (j === i ? tf.tensor(v, x.shape) : x));
        return Float32Array.from(f(...args).dataSync());
      });
    const base = evalAt(-1, p.values[0]);
    if (!p.probe) {
      const rng = new Rng(5000 + index);
      p.probe = Float32Array.from(base, () => rng.normal());
    }
    const probe = p.probe;
    assert.equal(probe.length, base.length, `${c.name}: output size changed between backends`);
    const analytic = tf.tidy(() => {
      const probeT = tf.tensor(probe);
      const loss = (...args: tf.Tensor[]) => f(...args).reshape([-1]).mul(probeT).sum();
      return tf.grads(loss)(xs).map((g) => Float32Array.from(g.dataSync()));
    });
    const h = c.h ?? 4e-3;
    let coordErr = 0, dirErr = 0;
    p.values.forEach((x, i) => {
      const g = analytic[i];
      assert.ok(g.every(Number.isFinite), `${c.name}: non-finite gradient of input ${i}`);
      // Coordinates.
      let num = 0, den = 0;
      for (const j of p.coords[i]) {
        const plus = Float32Array.from(x), minus = Float32Array.from(x);
        plus[j] = Math.fround(x[j] + h);
        minus[j] = Math.fround(x[j] - h);
        const fd = weightedDiff(evalAt(i, plus), evalAt(i, minus), probe) / (plus[j] - minus[j]);
        num = Math.max(num, Math.abs(g[j] - fd));
        den = Math.max(den, Math.abs(g[j]), Math.abs(fd));
      }
      coordErr = Math.max(coordErr, num === 0 ? 0 : num / den);
      // One random direction over every coordinate.
      const v = p.direction[i];
      const plus = Float32Array.from(x, (xj, j) => xj + h * v[j]);
      const minus = Float32Array.from(x, (xj, j) => xj - h * v[j]);
      let predicted = 0, norm = 0;
      for (let j = 0; j < x.length; j++) {
        predicted += g[j] * (plus[j] - minus[j]);
        norm += g[j] * g[j];
      }
      const fd = weightedDiff(evalAt(i, plus), evalAt(i, minus), probe);
      // Relative to the size a random direction's derivative has: 2h·‖g‖.
      const scale = Math.max(2 * h * Math.sqrt(norm), Math.abs(fd), 1e-30);
      dirErr = Math.max(dirErr, Math.abs(predicted - fd) / scale);
    });
    return { coords: coordErr, direction: dirErr };
  } finally {
    tf.dispose(xs);
  }
}

/** Results by case name, then backend: the error, or why the case did not run. */
const results = new Map<string, Map<Backend, Measured | string>>();
/** Negative controls' errors, by control index. */
const controlResults = new Map<number, Measured>();
const DEFAULT_TOL = 2e-3;

function worst(m: Measured): number {
  return Math.max(m.coords, m.direction);
}

for (const backend of BACKENDS) {
  Deno.test({
    name: `gradients of the trainers' ops match central differences on ${backend}`,
    ignore: backend === "tensorflow" && tensorflowMissing !== null,
    fn: async () => {
      assert.equal(await initBackend(backend), backend);
      const before = tf.memory().numTensors;
      const failures: string[] = [];
      CASES.forEach((c, index) => {
        let row = results.get(c.name);
        if (!row) results.set(c.name, row = new Map());
        const reason = c.unsupported?.[backend];
        if (reason) {
          row.set(backend, `n/a: ${reason}`);
          return;
        }
        const m = measure(c, index);
        row.set(backend, m);
        const tol = c.tol ?? DEFAULT_TOL;
        if (!(worst(m) <= tol)) {
          failures.push(
            `${c.name}: coordinates ${m.coords.toExponential(2)}, direction ` +
              `${m.direction.toExponential(2)} > ${tol}`,
          );
        }
      });
      assert.equal(tf.memory().numTensors, before, `${backend}: the checks leak tensors`);
      assert.deepEqual(failures, [], `${backend}: gradients off`);
    },
  });
}

Deno.test({
  name: "negative controls: the checks fail the stock kernels lib/backend replaces, by far",
  ignore: stockAvailable.size === 0,
  fn: async () => {
    for (const [i, control] of CONTROLS.entries()) {
      if (!stockAvailable.has(control)) continue;
      await initBackend(control.backend);
      const index = CASES.findIndex((c) => c.name === control.caseName);
      assert.ok(index >= 0, `no case ${control.caseName}`);
      const op = tf.customGrad(
        ((x: tf.Tensor4D, save: tf.GradSaveFunc) => {
          const y = control.forward(x);
          save([x, y]);
          return {
            value: y,
            gradFunc: (dy: tf.Tensor, [input, output]: tf.Tensor[]) => {
              const [inputs, attrs] = control.args(dy, input, output);
              return tf.engine().runKernel(stockName(control), inputs, attrs) as tf.Tensor;
            },
          };
        }) as unknown as Parameters<typeof tf.customGrad>[0],
      );
      const before = tf.memory().numTensors;
      const m = measure(CASES[index], index, (x) => op(x) as tf.Tensor);
      controlResults.set(i, m);
      assert.equal(tf.memory().numTensors, before);
      const tol = CASES[index].tol ?? DEFAULT_TOL;
      assert.ok(
        worst(m) > 30 * tol,
        `stock ${control.backend} ${control.kernel} should fail by far: ${JSON.stringify(m)}`,
      );
    }
  },
});

Deno.test("gradient table: every op measured on every backend that runs, or said why not (printed, data/gradients_table.md)", () => {
  const shown = BACKENDS.filter((b) => b !== "tensorflow" || tensorflowMissing === null);
  const cell = (m: Measured | string | undefined, tol: number) => {
    if (m === undefined) return "not run";
    if (typeof m === "string") return m.startsWith("n/a") ? "n/a" : m;
    return `${worst(m).toExponential(1)} ${worst(m) <= tol ? "pass" : "**FAIL**"}`;
  };
  const lines = [
    `| op (batch or leading dimension > 1 in every case) | tol | ${shown.join(" | ")} |`,
    `|---|---|${shown.map(() => "---|").join("")}`,
    ...CASES.map((c) => {
      const tol = c.tol ?? DEFAULT_TOL;
      const row = results.get(c.name);
      return `| ${c.name} | ${tol} | ${shown.map((b) => cell(row?.get(b), tol)).join(" | ")} |`;
    }),
  ];
  CONTROLS.forEach((control, i) => {
    const m = controlResults.get(i);
    if (!m) return;
    const e = `${worst(m).toExponential(1)} caught`;
    const cells = shown.map((b) => (b === control.backend ? e : "–")).join(" | ");
    lines.push(
      `| negative control: stock ${control.backend} ${control.kernel} on ${control.caseName} | ` +
        `${DEFAULT_TOL} | ${cells} |`,
    );
  });
  const notes = [
    "",
    "Error: max over inputs of max(coordinate error, direction error); see lib/backend/gradients_test.ts.",
    "Not covered, as no trainer differentiates through them: conv2dTranspose (no model uses it); " +
    "resizeBilinear, mirrorPad, depthToSpace, min, clipByValue, oneHot, argMax, topk (used only on " +
    "data or in sampling).",
    ...CASES.flatMap((c) =>
      Object.entries(c.unsupported ?? {}).map(([b, why]) => `n/a on ${b} (${c.name}): ${why}.`)
    ),
    ...(tensorflowMissing ? [`tensorflow not run: ${tensorflowMissing}`] : []),
  ];
  const table = [...lines, ...notes].join("\n");
  console.log(`\n${table}`);
  const dir = new URL("../../data/", import.meta.url);
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(new URL("gradients_table.md", dir), `${table}\n`);
  const unmeasured = CASES.flatMap((c) =>
    shown.filter((b) => results.get(c.name)?.get(b) === undefined).map((b) => `${c.name} on ${b}`)
  );
  assert.deepEqual(unmeasured, [], "ops the gradient tests above did not measure (or excuse)");
});
