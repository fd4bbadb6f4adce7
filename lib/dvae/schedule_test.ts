import assert from "node:assert/strict";
import { constant, cosine, linear, scaleSteps } from "../nn/mod.ts";
import { paperDvaeSchedules, tauSchedule } from "./mod.ts";

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b), `${what}: ${a} vs ${b}`);

Deno.test("lib/nn schedules: endpoints, midpoints, held after the ramp", () => {
  const c = cosine(1, 1 / 16, 100);
  close(c.at(0), 1, "cosine start");
  close(c.at(50), (1 + 1 / 16) / 2, "cosine midpoint");
  close(c.at(25), 1 / 16 + (1 - 1 / 16) * 0.5 * (1 + Math.cos(Math.PI / 4)), "cosine quarter");
  close(c.at(100), 1 / 16, "cosine end");
  close(c.at(10_000), 1 / 16, "cosine held");
  const l = linear(0, 6.6, 10);
  close(l.at(0), 0, "linear start");
  close(l.at(5), 3.3, "linear midpoint");
  close(l.at(10), 6.6, "linear end");
  close(l.at(11), 6.6, "linear held");
  close(constant(0.5).at(123), 0.5, "constant");
  assert.throws(() => linear(0, 1, -1), RangeError);
});

Deno.test("the paper's dVAE schedules at full length: β by 5k, τ by 150k, lr by 1.2M", () => {
  const s = paperDvaeSchedules(3_000_000);
  close(s.beta.at(0), 0, "β start");
  close(s.beta.at(2_500), 3.3, "β midpoint");
  close(s.beta.at(5_000), 6.6, "β end");
  close(s.tau.at(0), 1, "τ start");
  close(s.tau.at(75_000), (1 + 1 / 16) / 2, "τ midpoint");
  close(s.tau.at(150_000), 1 / 16, "τ end");
  close(s.lr.at(0), 1e-4, "lr start");
  close(s.lr.at(600_000), (1e-4 + 1.25e-6) / 2, "lr midpoint");
  close(s.lr.at(1_200_000), 1.25e-6, "lr end");
  close(s.lr.at(3_000_000), 1.25e-6, "lr held");
});

Deno.test("the paper's schedules scaled onto 2,000 steps keep each horizon's fraction", () => {
  assert.equal(scaleSteps(150_000, 3_000_000, 2_000), 100);
  const s = paperDvaeSchedules(2_000, { lrFrom: 1e-3 });
  close(s.beta.at(3), 6.6, "β warm after 3 steps");
  close(s.tau.at(50), (1 + 1 / 16) / 2, "τ halfway at 50");
  close(s.tau.at(100), 1 / 16, "τ annealed at 100");
  close(s.lr.at(0), 1e-3, "lr override");
  close(s.lr.at(800), 1.25e-6, "lr done at 800");
});

Deno.test("τ schedules by name for the ablation", () => {
  close(tauSchedule("cosine", 100).at(50), (1 + 1 / 16) / 2, "cosine");
  close(tauSchedule("linear", 100).at(50), (1 + 1 / 16) / 2, "linear midpoint");
  close(tauSchedule("linear", 100).at(25), 1 - 0.25 * (15 / 16), "linear quarter");
  assert.ok(tauSchedule("cosine", 100).at(25) > tauSchedule("linear", 100).at(25));
  close(tauSchedule("constant", 100).at(99), 1, "constant");
  assert.throws(() => tauSchedule("exp" as "linear", 10), TypeError);
});
