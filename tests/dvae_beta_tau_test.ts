/**
 * dvae_beta_tau.ts's `run` takes the τ schedules by name (notebook 04 passes its own): a name the
 * sweep asks for that no schedule has is refused before any training, naming the known ones.
 */
import assert from "node:assert/strict";
import { DEFAULTS, QUICK, run, TAU_SCHEDULES } from "../experiments/dvae_beta_tau.ts";

Deno.test("dvae_beta_tau: an unknown τ schedule is refused before training, naming the known ones", async () => {
  const cfg = { ...DEFAULTS, ...QUICK, taus: ["cosine", "fast"] };
  await assert.rejects(() => run(cfg), (err: Error) => {
    assert.ok(err instanceof TypeError, String(err));
    assert.match(err.message, /unknown τ schedule "fast": known cosine, linear, constant/);
    return true;
  });
  // The same name is known once the caller's schedules hold it (checked without training: the
  // other name then fails alone).
  const mine = { ...TAU_SCHEDULES, fast: TAU_SCHEDULES.cosine };
  await assert.rejects(
    () => run({ ...cfg, taus: ["fast", "slow"] }, mine),
    /unknown τ schedule "slow": known cosine, linear, constant, fast/,
  );
});
