/**
 * Command-line flags parsed against a defaults object, with `--backend` understood by every
 * experiment.
 *
 * @module
 */
import type { BackendPreference } from "../backend/mod.ts";

/** Flags every experiment takes besides those of its defaults (see {@link parseFlags}). */
export interface CommonFlags {
  /**
   * `--backend=NAME`: the backend to start, passed to `initBackend` (which rejects unknown
   * names with a RangeError). Unset: `$DALLE_LAB_BACKEND`, else `auto`.
   */
  backend?: BackendPreference;
}

/**
 * What {@link parseFlags} returns: the defaults' keys, typed like them, and {@link CommonFlags}
 * (unless the defaults have a key of that name: then theirs stands).
 */
export type Flags<T> = "backend" extends keyof T ? T : T & CommonFlags;

/**
 * Parses `--key=value` flags against a defaults object: each value is typed like its default,
 * and unknown keys or malformed values are errors (nanoGPT's configurator, typed).
 *
 * Every entry point also takes `--backend=NAME` ({@link CommonFlags}; present in the result only
 * when given) and hands it to `initBackend(flags.backend)`, so that the flag, else
 * `$DALLE_LAB_BACKEND`, else `auto` chooses the backend.
 *
 * @param defaults The configuration with its default values.
 * @param args Command-line arguments. @default Deno.args
 * @returns A new object with overrides applied.
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const cfg = parseFlags({ steps: 100, lr: 1e-3, tag: "a", ema: false }, ["--steps=5", "--ema"]);
 * console.log(cfg.steps, cfg.ema); // 5 true
 * const { backend } = parseFlags({ steps: 100 }, ["--backend=wasm"]);
 * console.log(backend); // "wasm": start it with initBackend(backend)
 * ```
 */
export function parseFlags<T extends Record<string, unknown>>(
  defaults: T,
  args: string[] = Deno.args,
): Flags<T> {
  const out: Record<string, unknown> = { ...defaults };
  for (const arg of args) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new TypeError(`expected --key=value, got "${arg}"`);
    const key = m[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const raw = m[2];
    if (key === "backend" && !(key in defaults)) {
      if (raw === undefined) throw new TypeError(`--${m[1]} needs a value (--${m[1]}=...)`);
      out[key] = raw; // initBackend checks the name
      continue;
    }
    if (!(key in defaults)) {
      throw new TypeError(
        `unknown flag --${m[1]}; known: ${[...Object.keys(defaults), "backend"].join(", ")}`,
      );
    }
    const def = defaults[key];
    if (typeof def === "boolean") {
      if (raw === undefined || raw === "true") out[key] = true;
      else if (raw === "false") out[key] = false;
      else throw new TypeError(`--${m[1]} expects true or false, got "${raw}"`);
    } else if (raw === undefined) {
      throw new TypeError(`--${m[1]} needs a value (--${m[1]}=...)`);
    } else if (typeof def === "number") {
      const v = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(v)) {
        throw new TypeError(`--${m[1]} expects a number, got "${raw}"`);
      }
      out[key] = v;
    } else if (Array.isArray(def)) {
      out[key] = raw.split(",").map((s) => (typeof def[0] === "number" ? Number(s) : s));
    } else {
      out[key] = raw;
    }
  }
  return out as Flags<T>;
}

/**
 * The flags given on the command line, as camelCase keys (`--rerank-steps=3` → `rerankSteps`).
 *
 * @param args Command-line arguments. @default Deno.args
 * @returns The keys named in `args`.
 * @example
 * ```ts
 * import { explicitFlags } from "./flags.ts";
 * console.log(explicitFlags(["--quick", "--steps=5"])); // Set { "quick", "steps" }
 * ```
 */
export function explicitFlags(args: string[] = Deno.args): Set<string> {
  const keys = args.map((a) =>
    /^--([\w-]+)/.exec(a)?.[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
  );
  return new Set(keys.filter((k): k is string => k !== undefined));
}

/**
 * A preset (a dataset's recipe, a `--quick` budget) applied under the flags given explicitly: the
 * preset's values replace the defaults, never what the user typed.
 *
 * @param flags Parsed flags (see {@link parseFlags}).
 * @param preset The values the preset changes.
 * @param args The command line the flags came from. @default Deno.args
 * @returns A new object.
 * @example
 * ```ts
 * import { applyPreset, parseFlags } from "./flags.ts";
 * const args = ["--quick", "--steps=7"];
 * const flags = parseFlags({ quick: false, steps: 1000, captions: 24 }, args);
 * const cfg = flags.quick ? applyPreset(flags, { steps: 40, captions: 4 }, args) : flags;
 * console.log(cfg.steps, cfg.captions); // 7 4
 * ```
 */
export function applyPreset<T extends object>(
  flags: T,
  preset: NoInfer<Partial<T>>,
  args: string[] = Deno.args,
): T {
  const explicit = explicitFlags(args);
  const kept = Object.entries(preset).filter(([key]) => !explicit.has(key));
  return { ...flags, ...Object.fromEntries(kept) };
}
