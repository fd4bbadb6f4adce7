import assert from "node:assert/strict";
import { checkOptionKeys } from "./mod.ts";

const KNOWN = ["steps", "batchSize", "beta", "tau", "temperature"];

Deno.test("checkOptionKeys: known keys pass, an unknown one is named with the known list", () => {
  checkOptionKeys("f", {}, KNOWN);
  checkOptionKeys("f", { steps: 1, beta: undefined }, KNOWN);
  assert.throws(
    () => checkOptionKeys("trainDvae", { steps: 1, bta: 2 }, KNOWN),
    (err: Error) =>
      err.constructor === TypeError &&
      err.message ===
        'trainDvae: unknown option "bta" (did you mean "beta"?); known options: steps, ' +
          "batchSize, beta, tau, temperature",
  );
  // Typos of every kind find their key: a letter dropped, swapped, doubled, or the case changed.
  for (
    const [typo, meant] of [["temprature", "temperature"], ["stpes", "steps"], [
      "batchsize",
      "batchSize",
    ], ["tauu", "tau"]]
  ) {
    assert.throws(
      () => checkOptionKeys("f", { [typo]: 1 }, KNOWN),
      new RegExp(`did you mean "${meant}"`),
    );
  }
  // Nothing near: no guess, and every unknown key is named.
  assert.throws(
    () => checkOptionKeys("f", { lr: 1, zzz: 2 }, KNOWN),
    /: f: unknown options "lr", "zzz"; known options: /,
  );
  assert.throws(
    () => checkOptionKeys("f", null, KNOWN),
    /TypeError: f: options must be an object, got null$/,
  );
  assert.throws(() => checkOptionKeys("f", 3, KNOWN), TypeError);
});
