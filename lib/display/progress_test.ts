import assert from "node:assert/strict";
import { Progress, RunLog, setProgressSink } from "../log/mod.ts";
import { notebookProgressSink, useNotebookProgress } from "./mod.ts";

interface Message {
  type: string;
  id: string;
  html: string;
  plain: string;
}

/** A kernel that answers each message after a random delay and records the order of arrival. */
function fakeKernel(seed = 1) {
  const received: Message[] = [];
  let s = seed;
  const kernel = {
    async broadcast(type: string, content: Record<string, unknown>) {
      s = (s * 16807) % 2147483647;
      await new Promise((resolve) => setTimeout(resolve, s % 5));
      const data = content.data as Record<string, string>;
      const id = (content.transient as { display_id: string }).display_id;
      received.push({ type, id, html: data["text/html"], plain: data["text/plain"] });
    },
  };
  return { kernel, received };
}

const stepOf = (m: Message) => Number(/data-progress-step="(\d+)"/.exec(m.html)?.[1]);

Deno.test("notebook progress: one display, throttled updates in order, the held-back state sent on flush", async () => {
  const { kernel, received } = fakeKernel();
  let now = 0;
  const sink = notebookProgressSink({ kernel, throttleMs: 500, nowMs: () => now });
  const progress = new Progress({ label: "unit", totalSteps: 100 }, sink);
  // Rows at t = 0, 100, …, 1400 ms: sent at 0, 500, 1000; step 14 is held back.
  for (let step = 0; step < 15; step++) {
    now = step * 100;
    progress.update({ step, loss: 2 / (step + 1) });
  }
  await progress.flush();
  assert.deepEqual(received.map((m) => m.type), [
    "display_data",
    "update_display_data",
    "update_display_data",
    "update_display_data",
  ]);
  assert.deepEqual(received.map(stepOf), [0, 5, 10, 14], "in the order sent, the last row last");
  assert.equal(new Set(received.map((m) => m.id)).size, 1, "one display_id");
  const last = received.at(-1)!;
  assert.match(last.html, /step 15\/100/);
  assert.deepEqual(received.map((m) => /data-progress-message="(\d+)"/.exec(m.html)?.[1]), [
    "0",
    "1",
    "2",
    "3",
  ]);
  assert.match(last.html, /<svg[^>]*>.*<polyline/);
  assert.match(last.html, /loss 0\.1333/);
  assert.match(last.plain, /^\[unit\] step 14 loss 0\.1333 · /);
  // Nothing new: a second flush sends nothing.
  await progress.flush();
  assert.equal(received.length, 4);
});

Deno.test("notebook progress: the last step goes out at once and reads done; loops get their own display", async () => {
  const { kernel, received } = fakeKernel(7);
  const sink = notebookProgressSink({ kernel, throttleMs: 60_000, nowMs: () => 0 });
  const a = new Progress({ label: "a", totalSteps: 3 }, sink);
  for (let step = 0; step < 3; step++) a.update({ step, loss: 1 });
  const b = new Progress({ label: "b", totalSteps: 3 }, sink);
  b.update({ step: 0, loss: 1 });
  await Promise.all([a.flush(), b.flush()]);
  const ofA = received.filter((m) => m.html.includes('data-progress-label="a"'));
  assert.deepEqual(ofA.map((m) => [m.type, stepOf(m)]), [["display_data", 0], [
    "update_display_data",
    2,
  ]]);
  assert.match(ofA[1].html, /data-progress-done="true"/);
  const ofB = received.filter((m) => m.html.includes('data-progress-label="b"'));
  assert.equal(ofB.length, 1);
  assert.notEqual(ofA[0].id, ofB[0].id);
});

Deno.test("notebook progress: a long run's updates stay small (the curve is thinned)", async () => {
  const { kernel, received } = fakeKernel();
  let now = 0;
  const progress = new Progress(
    { label: "long", totalSteps: 5000 },
    notebookProgressSink({ kernel, nowMs: () => now }),
  );
  for (let step = 0; step < 5000; step++) {
    now = step * 10;
    progress.update({ step, loss: 3 * Math.exp(-step / 1000), lr: 1e-3, tokens_per_sec: 1234.5 });
  }
  await progress.flush();
  const last = received.at(-1)!;
  const points = /points="([^"]*)"/.exec(last.html)![1].split(" ");
  assert.ok(points.length > 50 && points.length <= 200, `${points.length} points`);
  assert.ok(last.html.length < 8_000, `${last.html.length} chars`);
  assert.match(last.html, /data-progress-step="4999"/);
});

Deno.test("notebook progress: a failed send is thrown by flush, not swallowed", async () => {
  const kernel = { broadcast: () => Promise.reject(new Error("socket closed")) };
  const progress = new Progress({ label: "x" }, notebookProgressSink({ kernel }));
  progress.update({ step: 0, loss: 1 });
  await assert.rejects(
    () => progress.flush(),
    /progress display could not be sent: .*socket closed/,
  );
});

Deno.test("useNotebookProgress routes RunLog's rows to the display (no terminal lines)", async () => {
  const { kernel, received } = fakeKernel();
  const original = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    useNotebookProgress({ kernel, throttleMs: 0 });
    const run = await RunLog.create({ experiment: "unit", write: false, totalSteps: 4 });
    for (let step = 0; step < 4; step++) run.log({ step, loss: 1 });
    await run.flush();
  } finally {
    console.log = original;
    setProgressSink(null);
  }
  assert.deepEqual(lines, []);
  assert.deepEqual(received.map(stepOf), [0, 1, 2, 3]);
});
