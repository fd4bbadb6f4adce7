/**
 * Training kernels that tfjs-backend-wasm 4.22 does not register, built from its own kernels.
 *
 * Without them `tf.grad` of a conv layer or of an embedding (`tf.gather`) throws on `wasm`.
 * Each kernel below only calls other wasm kernels (XNNPACK convolutions, transposes, scatter),
 * so no tensor ever leaves wasm memory, and frees every intermediate it makes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { avgPoolGradInto, maxPoolGradInto, poolInfo, windowsInside } from "./_js_kernels.ts";

type Info = tf.TensorInfo;
type KernelFunc = (args: {
  inputs: Record<string, Info>;
  backend: tf.KernelBackend;
  attrs?: Record<string, unknown>;
}) => Info | Info[];

function wasmKernel(name: string): KernelFunc {
  const config = tf.getKernel(name, "wasm");
  if (!config) throw new Error(`tfjs-backend-wasm has no ${name} kernel to build on`);
  return config.kernelFunc as unknown as KernelFunc;
}

/** Runs one wasm kernel and returns its single output. */
function run(
  backend: tf.KernelBackend,
  name: string,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown> = {},
): Info {
  return wasmKernel(name)({ inputs, backend, attrs }) as Info;
}

/** A view of the same data with another shape: wasm kernels read only `dataId` and `shape`. */
function view(info: Info, shape: number[]): Info {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * dW[kh, kw, ci, co] = Σ_{b, oh, ow} x[b, oh·s + kh − top, ow·s + kw − left, ci] · dy[b, oh, ow, co].
 *
 * Read with ci as the batch and b as the channels, that sum is a valid convolution of the padded,
 * transposed input with dy as a filter dilated by the stride: wasm's Conv2D computes it.
 */
function conv2DBackpropFilter(
  { inputs, backend, attrs }: Parameters<KernelFunc>[0],
): Info {
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as {
    strides: [number, number] | number;
    pad: "valid" | "same" | number | [number, number][];
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
    filterShape: [number, number, number, number];
  };
  if (dataFormat === "NCHW") {
    throw new Error("Conv2DBackpropFilter on wasm supports NHWC only (tfjs's conv2d default)");
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad as "valid",
    dimRoundingMode,
  );
  const [kh, kw, ci, co] = filterShape;
  const { top, left } = info.padInfo;
  const [, height, width] = x.shape;
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  // Pad bottom/right just enough that the valid conv yields at least kh × kw outputs.
  const bottom = Math.max(0, kh + (outHeight - 1) * strideHeight - height - top);
  const right = Math.max(0, kw + (outWidth - 1) * strideWidth - width - left);

  const xT = run(backend, "Transpose", { x }, { perm: [3, 1, 2, 0] }); // (ci, H, W, B)
  const dyT = run(backend, "Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // (oh, ow, B, co)
  const conv = run(backend, "Conv2D", { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: "NHWC",
    dilations: [strideHeight, strideWidth],
    dimRoundingMode: undefined,
  }); // (ci, ≥kh, ≥kw, co)
  backend.disposeData(xT.dataId);
  backend.disposeData(dyT.dataId);
  let exact = conv;
  if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
    exact = run(backend, "Slice", { x: conv }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
    backend.disposeData(conv.dataId);
  }
  const dw = run(backend, "Transpose", { x: exact }, { perm: [1, 2, 0, 3] }); // (kh, kw, ci, co)
  backend.disposeData(exact.dataId);
  return dw;
}

/**
 * out[s, ...] = Σ_{i : ids[i] = s} x[i, ...], the gradient of `gather` (embeddings).
 *
 * wasm's ScatterNd accumulates duplicate indices, which is exactly this sum; ids outside
 * [0, numSegments) would write outside the output, so they are rejected first.
 */
function unsortedSegmentSum(
  { inputs, backend, attrs }: Parameters<KernelFunc>[0],
): Info {
  const { x, segmentIds } = inputs;
  const { numSegments } = attrs as { numSegments: number };
  const idShape = segmentIds.shape;
  if (idShape.some((d, i) => x.shape[i] !== d)) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${idShape}] must prefix x shape [${x.shape}]`,
    );
  }
  const count = idShape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(idShape.length);
  const innerSize = inner.reduce((a, b) => a * b, 1);
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= numSegments) {
      throw new RangeError(
        `UnsortedSegmentSum: segment id ${ids[i]} at ${i} is outside [0, ${numSegments})`,
      );
    }
  }
  const indices = segmentIds.dtype === "int32" ? view(segmentIds, [count, 1]) : null;
  if (!indices) throw new TypeError(`UnsortedSegmentSum: segmentIds must be int32`);
  const out = run(backend, "ScatterNd", {
    indices,
    updates: view(x, [count, innerSize]),
  }, { shape: [numSegments, innerSize] });
  return view(out, [numSegments, ...inner]);
}

/**
 * dx for a conv layer. wasm's own Conv2DBackpropInput is a plain loop, ~15× slower than its
 * XNNPACK Conv2D, so this one expresses dx as a Conv2D: dy dilated by the stride (zeros between
 * rows and columns), padded by k − 1 − top, correlated with the kernel flipped in space and with
 * in/out channels swapped. Layouts whose padding would need cropping use the original kernel.
 */
function conv2DBackpropInputFast(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as {
      strides: [number, number] | number;
      pad: "valid" | "same" | number | [number, number][];
      dataFormat: "NHWC" | "NCHW";
      dimRoundingMode?: "floor" | "round" | "ceil";
      inputShape: [number, number, number, number];
    };
    if (dataFormat === "NCHW") return fallback(args);
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad as "valid",
      dimRoundingMode,
    );
    const [kh, kw, ci, co] = filter.shape;
    const [batch, height, width] = inputShape;
    const { outHeight, outWidth, strideHeight: sh, strideWidth: sw } = info;
    const { top, left } = info.padInfo;
    const padTop = kh - 1 - top, padLeft = kw - 1 - left;
    // The dilated dy is (outHeight·sh) tall (trailing zeros included); the conv needs height + kh − 1.
    const padBottom = height + kh - 1 - padTop - outHeight * sh;
    const padRight = width + kw - 1 - padLeft - outWidth * sw;
    if (padTop < 0 || padLeft < 0 || padBottom < -(sh - 1) || padRight < -(sw - 1)) {
      return fallback(args);
    }
    let dilated = dy;
    if (sh > 1 || sw > 1) {
      const spread = run(
        backend,
        "PadV2",
        { x: view(dy, [batch, outHeight, 1, outWidth, 1, co]) },
        {
          paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
          constantValue: 0,
        },
      );
      dilated = view(spread, [batch, outHeight * sh, outWidth * sw, co]);
      if (padBottom < 0 || padRight < 0) {
        // Trailing zeros past what the conv reads: crop them.
        const cropped = run(backend, "Slice", { x: dilated }, {
          begin: [0, 0, 0, 0],
          size: [
            batch,
            outHeight * sh + Math.min(0, padBottom),
            outWidth * sw + Math.min(0, padRight),
            co,
          ],
        });
        backend.disposeData(spread.dataId);
        dilated = cropped;
      }
    }
    const flipped = run(backend, "Reverse", { x: filter }, { dims: [0, 1] });
    const swapped = run(backend, "Transpose", { x: flipped }, { perm: [0, 1, 3, 2] }); // (kh, kw, co, ci)
    backend.disposeData(flipped.dataId);
    const dx = run(backend, "Conv2D", { x: dilated, filter: swapped }, {
      strides: [1, 1],
      pad: [[0, 0], [padTop, Math.max(0, padBottom)], [padLeft, Math.max(0, padRight)], [0, 0]],
      dataFormat: "NHWC",
      dilations: [1, 1],
      dimRoundingMode: undefined,
    });
    backend.disposeData(swapped.dataId);
    if (dilated !== dy) backend.disposeData(dilated.dataId);
    if (dx.shape[1] !== height || dx.shape[2] !== width || dx.shape[3] !== ci) {
      throw new Error(`Conv2DBackpropInput: got [${dx.shape}] for input [${inputShape}]`);
    }
    return dx;
  };
}

/**
 * (G, M, K)·(G, K, N) → (G, M, N) as one depthwise convolution, which XNNPACK runs as grouped
 * GEMMs: channel g of a (1, M, K, G) image meets a 1×K filter with N outputs per channel. wasm's
 * own batched `BatchMatMul` is a naive loop; this measured ~3× faster on attention shapes.
 */
function groupedProduct(backend: tf.KernelBackend, a: Info, b: Info): Info {
  const [G, M, K] = a.shape, N = b.shape[2];
  const aT = run(backend, "Transpose", { x: a }, { perm: [1, 2, 0] }); // (M, K, G)
  const bT = run(backend, "Transpose", { x: b }, { perm: [1, 0, 2] }); // (K, G, N)
  const conv = run(backend, "DepthwiseConv2dNative", {
    x: view(aT, [1, M, K, G]),
    filter: view(bT, [1, K, G, N]),
  }, { strides: [1, 1], pad: "valid", dataFormat: "NHWC", dilations: [1, 1] }); // (1, M, 1, G·N)
  backend.disposeData(aT.dataId);
  backend.disposeData(bT.dataId);
  const out = run(backend, "Transpose", { x: view(conv, [M, G, N]) }, { perm: [1, 0, 2] });
  backend.disposeData(conv.dataId);
  return out;
}

/**
 * wasm's BatchMatMul reaches XNNPACK only for one plain 2-D product; with `transposeA/B` it runs a
 * loop 10–25× slower (and tfjs's matMul gradient always sets one of them), and with a batch of
 * products it loops too. So operands are transposed with wasm's Transpose first, and batched
 * products of equal batch run as grouped convolutions.
 */
function batchMatMulPlain(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = (attrs ?? {}) as {
      transposeA?: boolean;
      transposeB?: boolean;
    };
    const lead = inputs.a.shape.slice(0, -2);
    const groups = lead.reduce((p, d) => p * d, 1);
    const sameLead = inputs.b.shape.length === inputs.a.shape.length &&
      lead.every((d, i) => inputs.b.shape[i] === d);
    // One-row products (sampling steps) are faster through wasm's own loop than as a conv.
    const rows = inputs.a.shape[inputs.a.shape.length - (transposeA ? 1 : 2)];
    const grouped = groups > 1 && sameLead && rows > 1;
    if (!transposeA && !transposeB && !grouped) return original(args);
    const swapLast = (x: Info) => {
      const perm = x.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [
        perm[perm.length - 1],
        perm[perm.length - 2],
      ];
      return run(backend, "Transpose", { x }, { perm });
    };
    const a = transposeA ? swapLast(inputs.a) : inputs.a;
    const b = transposeB ? swapLast(inputs.b) : inputs.b;
    let out: Info;
    if (grouped) {
      const [M, K] = a.shape.slice(-2), N = b.shape[b.shape.length - 1];
      const flat = groupedProduct(backend, view(a, [groups, M, K]), view(b, [groups, K, N]));
      out = view(flat, [...lead, M, N]);
    } else {
      out = original({
        inputs: { a, b },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      }) as Info;
    }
    if (a !== inputs.a) backend.disposeData(a.dataId);
    if (b !== inputs.b) backend.disposeData(b.dataId);
    return out;
  };
}

interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(info: Info): Float32Array;
}

/**
 * dx of a max pool. wasm's own `MaxPoolGrad` loses or misplaces the gradient of about 6% of
 * windows (a [2, 4, 4, 3] 2×2 pool's gradient sums to 22–23 instead of 24), so this one runs the
 * scatter-add of `_js_kernels.ts` over wasm memory.
 */
function maxPoolGrad({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): Info {
  const { dy, input } = inputs;
  const info = poolInfo(input.shape, attrs);
  const wasm = backend as WasmBackend;
  const dx = wasm.makeOutput([...input.shape], "float32");
  // Views are taken after the allocation, which may grow (and so detach) the heap.
  const out = wasm.typedArrayFromHeap(dx);
  out.fill(0);
  maxPoolGradInto(wasm.typedArrayFromHeap(input), wasm.typedArrayFromHeap(dy), info, out);
  return dx;
}

/**
 * dx of an average pool. wasm's own `AvgPoolGrad` divides every window's gradient by the full
 * window size, while its forward op averages over the cells inside the image only, so on padded
 * ("same") pools the border gradients were wrong (a [2, 7, 7, 3] 3×3/2 pool: off by 62% against
 * finite differences). Pools whose windows are all full keep the stock kernel; the others run the
 * scatter-add of `_js_kernels.ts` over wasm memory.
 */
function avgPoolGrad(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, input } = inputs;
    const info = poolInfo(input.shape, attrs);
    if (windowsInside(info)) return stock(args);
    const wasm = backend as WasmBackend;
    const dx = wasm.makeOutput([...input.shape], "float32");
    // The view is taken after the allocation, which may grow (and so detach) the heap.
    const out = wasm.typedArrayFromHeap(dx);
    out.fill(0);
    avgPoolGradInto(wasm.typedArrayFromHeap(dy), info, out);
    return dx;
  };
}

/** Replaces a wasm kernel with a wrapper around it, once. */
function wrapKernel(name: string, wrap: (original: KernelFunc) => KernelFunc): void {
  const current = tf.getKernel(name, "wasm");
  if (!current || (current as { dalleLab?: boolean }).dalleLab) return;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({
    kernelName: name,
    backendName: "wasm",
    kernelFunc: wrap(current.kernelFunc as unknown as KernelFunc) as unknown as tf.KernelFunc,
    dalleLab: true,
  } as tf.KernelConfig);
}

let registered = false;

/**
 * Registers on `wasm` the kernels that training needs and tfjs-backend-wasm lacks:
 * `Conv2DBackpropFilter` (conv weight gradients) and `UnsortedSegmentSum` (embedding gradients),
 * and replaces its wrong `MaxPoolGrad` and `AvgPoolGrad` (padded pools), its slow
 * `Conv2DBackpropInput` (with one built on its XNNPACK Conv2D) and its slow transposed
 * `BatchMatMul` (with a transpose and a plain product).
 * Idempotent; `initBackend("wasm")` calls it.
 *
 * @example
 * ```ts
 * import { registerWasmTrainingKernels } from "./mod.ts";
 * registerWasmTrainingKernels();
 * ```
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  const kernels: [string, KernelFunc][] = [
    ["Conv2DBackpropFilter", conv2DBackpropFilter],
    ["UnsortedSegmentSum", unsortedSegmentSum],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, "wasm")) {
      tf.registerKernel({
        kernelName,
        backendName: "wasm",
        kernelFunc: kernelFunc as unknown as tf.KernelFunc,
      });
    }
  }
  wrapKernel("Conv2DBackpropInput", conv2DBackpropInputFast);
  wrapKernel("MaxPoolGrad", () => maxPoolGrad);
  wrapKernel("AvgPoolGrad", avgPoolGrad);
  wrapKernel("BatchMatMul", batchMatMulPlain);
  registered = true;
}
