import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend, tf } from "../backend/mod.ts";
import { CorruptFileError } from "../io/errors.ts";
import { createDvae } from "../dvae/mod.ts";
import { createPrior, savePrior } from "../prior/mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";
import {
  isPlainPartName,
  type Manifest,
  MANIFEST_FILE,
  Pipeline,
  PipelineManifestError,
  sha256Hex,
} from "./mod.ts";

await initBackend();

const PRIOR_SEED = 2;

/** Saves an untrained pipeline without reranker (4×4 grid of 16 codes) into `dir`. */
async function savePipeline(dir: string): Promise<void> {
  const tokenizer = BpeTokenizer.train(["a red circle", "a blue square"], { vocabSize: 259 });
  const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8, seed: 1 });
  const prior = createPrior({
    textLen: 8,
    textVocab: tokenizer.vocabSize,
    padId: tokenizer.padId,
    imageGrid: dvae.gridSize,
    imageVocab: 16,
    dModel: 8,
    layers: 1,
    heads: 2,
    seed: PRIOR_SEED,
  });
  const pipeline = new Pipeline(tokenizer, dvae, prior);
  await pipeline.save(dir);
  pipeline.dispose();
}

/** Runs `body` with a fresh `root/p` pipeline and a way to rewrite its manifest. */
async function withPipeline(
  body: (dir: string, edit: (change: (m: Manifest) => void) => Promise<void>) => Promise<void>,
) {
  const root = await Deno.makeTempDir();
  const dir = join(root, "p");
  try {
    await savePipeline(dir);
    const path = join(dir, MANIFEST_FILE);
    const manifest = JSON.parse(await Deno.readTextFile(path));
    await body(dir, async (change) => {
      const copy = structuredClone(manifest);
      change(copy);
      await Deno.writeTextFile(path, JSON.stringify(copy));
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("isPlainPartName: plain names only, no way out of the folder", () => {
  for (const ok of ["tokenizer.json", "prior.safetensors", "reranker_2-b.safetensors"]) {
    assert.ok(isPlainPartName(ok), ok);
  }
  const bad = ["", ".", "..", "../x", "a/b", "a\\b", "/etc/hostname", "C:x", "a\0b", ".hidden"];
  for (const name of bad) assert.ok(!isPlainPartName(name), JSON.stringify(name));
});

Deno.test("a part path out of the folder is refused before anything is read", async () => {
  await withPipeline(async (dir, edit) => {
    const secret = join(dir, "..", "secret.json");
    await Deno.writeTextFile(secret, '"SECRET-MARKER"');
    for (const file of ["../secret.json", secret, "../../../etc/hostname", "", "sub/x.json"]) {
      await edit((m) => (m.parts.tokenizer.file = file));
      await assert.rejects(
        () => Pipeline.load(dir),
        (err: Error) =>
          err instanceof PipelineManifestError &&
          err.message.includes(
            `its tokenizer file ${JSON.stringify(file)}, which is not a plain`,
          ) &&
          !err.message.includes("SECRET-MARKER"),
      );
    }
  });
});

Deno.test("a symbolic link out of the folder is refused; one inside it is a file like any", async () => {
  await withPipeline(async (dir, edit) => {
    const outside = join(dir, "..", "prior.safetensors");
    await Deno.rename(join(dir, "prior.safetensors"), outside);
    await Deno.symlink(outside, join(dir, "prior.safetensors"));
    await assert.rejects(
      () => Pipeline.load(dir),
      PipelineManifestError,
      `its prior file ${join(dir, "prior.safetensors")} is a link out of the folder`,
    );
    await Deno.remove(join(dir, "prior.safetensors"));
    await Deno.rename(outside, join(dir, "prior_v1.safetensors"));
    await Deno.symlink("prior_v1.safetensors", join(dir, "prior.safetensors"));
    (await Pipeline.load(dir)).dispose();
    await Deno.mkdir(join(dir, "folder.json"));
    await edit((m) => (m.parts.tokenizer.file = "folder.json"));
    await assert.rejects(() => Pipeline.load(dir), /folder\.json is not a regular file$/);
  });
});

Deno.test("a part changed or swapped after saving fails its hash", async () => {
  await withPipeline(async (dir) => {
    const path = join(dir, "prior.safetensors");
    const saved = await Deno.readFile(path);
    // Another prior of the very same configuration (seed included): the config check passes.
    const loaded = await Pipeline.load(dir);
    const other = createPrior({ ...loaded.prior.config, seed: PRIOR_SEED });
    loaded.dispose();
    tf.tidy(() => other.parameters()[0].assign(other.parameters()[0].add(1)));
    await savePrior(path, other);
    other.dispose();
    const expected = (await sha256Hex(saved)).slice(0, 12);
    await assert.rejects(
      () => Pipeline.load(dir),
      (err: Error) =>
        err instanceof CorruptFileError && err.path === path &&
        err.message.startsWith(`${path} is not a valid pipeline prior: its SHA-256 is `) &&
        err.message.includes(`but ${MANIFEST_FILE} records ${expected}…`),
    );
    const flipped = saved.slice();
    flipped[flipped.length - 1] ^= 1; // one bit of one weight: the file still loads without hashes
    await Deno.writeFile(path, flipped);
    await assert.rejects(() => Pipeline.load(dir), CorruptFileError, "changed or swapped");
    await Deno.writeFile(path, saved);
    (await Pipeline.load(dir)).dispose();
  });
});

Deno.test("a manifest without hashes (version 1) is refused unless asked, then re-saved", async () => {
  await withPipeline(async (dir, edit) => {
    await edit((m) => {
      m.version = 1;
      for (const part of Object.values(m.parts)) delete part.sha256;
    });
    await assert.rejects(
      () => Pipeline.load(dir),
      PipelineManifestError,
      "has version 1, written before part hashes",
    );
    const warn = console.warn;
    const warned: string[] = [];
    console.warn = (message: string) => warned.push(message);
    let old: Pipeline;
    try {
      old = await Pipeline.load(dir, { allowUnhashed: true });
    } finally {
      console.warn = warn;
    }
    assert.equal(warned.length, 1);
    assert.match(warned[0], /loaded UNCHECKED/);
    await old.save(dir);
    old.dispose();
    (await Pipeline.load(dir)).dispose();
    // Asking for unhashed loading does not turn off the path checks.
    await edit((m) => {
      m.version = 1;
      m.parts.dvae.file = "../dvae.safetensors";
    });
    await assert.rejects(
      () => Pipeline.load(dir, { allowUnhashed: true }),
      PipelineManifestError,
      "not a plain file name",
    );
  });
});

Deno.test("a manifest that is not JSON: the message does not quote it", async () => {
  await withPipeline(async (dir) => {
    await Deno.writeTextFile(join(dir, MANIFEST_FILE), "SECRET-MARKER, not json");
    await assert.rejects(
      () => Pipeline.load(dir),
      (err: Error) =>
        err instanceof PipelineManifestError &&
        err.message.endsWith(`${MANIFEST_FILE} is not JSON (truncated or corrupt?)`) &&
        !err.message.includes("SECRET"),
    );
  });
});
