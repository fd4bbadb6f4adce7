/**
 * Command-line flags parsed against a defaults object, with `--backend` understood by every
 * experiment.
 *
 * @module
 */
import type { BackendPreference } from "../backend/mod.ts";
import { RENAMED_FLAGS } from "../io/mod.ts";
import type { ModuleDocs } from "./_flag_docs.ts";
import {
  accepted,
  BACKENDS,
  exitOnUsageError,
  expected,
  formatHelp,
  moduleDocs,
  UsageError,
} from "./cli.ts";

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

/** Options of {@link parseFlags}. */
export interface ParseFlagsOptions {
  /**
   * The module whose source holds the defaults object and its JSDoc (the meaning of each flag and
   * its `@accepts` tag) and whose header comment opens `--help`. @default Deno.mainModule
   */
  module?: string | URL;
  /**
   * Positional arguments the entry point takes, as its usage line shows them (`[SUITE ...]`);
   * without it, an argument that is not a flag is an error. The caller reads them itself.
   */
  positional?: string;
}

/**
 * Parses `--key=value` flags against a defaults object: each value is typed like its default,
 * and unknown keys or malformed values are errors (nanoGPT's configurator, typed).
 *
 * The JSDoc above each key of the defaults (in {@link ParseFlagsOptions.module}, the entry point)
 * is the flag's one-line meaning; an `@accepts` tag there narrows what it takes
 * (`@accepts integer ≥ 1`, `@accepts number > 0`, `@accepts fashion | shapes`; list flags check
 * each item). `--help` (or `-h`) prints the entry point's question, its flags with type, default
 * and meaning, and an example, then exits 0. Bad input throws a {@link UsageError}; parsing the
 * command line (`args` omitted or equal to `Deno.args`) installs the handler that turns an
 * uncaught one into `error: <message>` and exit status 2.
 *
 * Every entry point also takes `--backend=NAME` ({@link CommonFlags}; present in the result only
 * when given) and hands it to `initBackend(flags.backend)`, so that the flag, else
 * `$DALLE_LAB_BACKEND`, else `auto` chooses the backend.
 *
 * @param defaults The configuration with its default values.
 * @param args Command-line arguments. @default Deno.args
 * @param options Where the flags' docs are, and positional arguments.
 * @returns A new object with overrides applied.
 * @throws {UsageError} For an unknown flag or a value its default's type or `@accepts` refuses.
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
  args?: string[],
  options: ParseFlagsOptions = {},
): Flags<T> {
  const argv = args ?? Deno.args;
  if (sameArgs(argv, Deno.args)) exitOnUsageError();
  const module = options.module ?? Deno.mainModule;
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(helpText(defaults, module, options.positional));
    Deno.exit(0);
  }
  const docs = readableDocs(module, Object.keys(defaults));
  const out: Record<string, unknown> = { ...defaults };
  for (const arg of argv) {
    if (!arg.startsWith("--") && options.positional !== undefined) continue;
    const m = /^--([\w-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`expected --key=value, got "${arg}" (--help lists the flags)`);
    const typed = m[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const raw = m[2];
    const name = `--${m[1]}`;
    const key = currentName(typed, defaults, raw);
    if (key === "backend" && !(key in defaults)) {
      if (raw === undefined) throw new UsageError(`${name} needs a value (${name}=...)`);
      if (!(raw in BACKENDS)) {
        throw new UsageError(
          `${name} expects one of ${Object.keys(BACKENDS).join(", ")}, got "${raw}"`,
        );
      }
      out[key] = raw;
      continue;
    }
    if (!(key in defaults)) {
      throw new UsageError(
        `unknown flag ${name}; known: ${[...Object.keys(defaults), "backend"].join(", ")}`,
      );
    }
    const def = defaults[key];
    const accepts = docs?.flags.get(key)?.accepts;
    if (typeof def === "boolean") {
      if (raw === undefined || raw === "true") out[key] = true;
      else if (raw === "false") out[key] = false;
      else throw new UsageError(`${name} expects true or false, got "${raw}"`);
      continue;
    }
    if (raw === undefined) throw new UsageError(`${name} needs a value (${name}=...)`);
    const one = (text: string, kind: unknown, what: string) => {
      const value = typeof kind === "number" && text.trim() !== "" ? Number(text) : text;
      const bad = typeof kind === "number"
        ? !accepted(value, accepts ?? { text: "number" })
        : accepts !== undefined && !accepted(value, accepts);
      if (bad) throw new UsageError(`${name} expects ${what}, got "${raw}"`);
      return value;
    };
    if (Array.isArray(def)) {
      const what = `a comma-separated list of ${
        accepts ? accepts.text : typeof def[0] === "number" ? "numbers" : "values"
      }`;
      out[key] = raw.split(",").map((s) => one(s, def[0], what));
    } else {
      out[key] = one(raw, def, expected(accepts, typeof def === "number" ? "a number" : "text"));
    }
  }
  return out as Flags<T>;
}

/**
 * The flag a typed name stands for: itself, or, for a name renamed since (lib/io's RENAMED_FLAGS)
 * where the defaults have the new name and not the old, the new one, said once on stderr so a
 * recorded command still runs and its reader learns today's name.
 */
function currentName(typed: string, defaults: Record<string, unknown>, raw?: string): string {
  const key = flagKey(typed, defaults);
  if (key !== typed) {
    console.error(
      `note: --${typed} is now --${key}; read as --${key}${raw === undefined ? "" : `=${raw}`}`,
    );
  }
  return key;
}

/** The key a typed flag name sets in `flags` (see {@link currentName}), silently. */
function flagKey(typed: string, flags: object): string {
  const renamed = Object.hasOwn(RENAMED_FLAGS, typed) ? RENAMED_FLAGS[typed] : undefined;
  return typed in flags || renamed === undefined || !(renamed in flags) ? typed : renamed;
}

/** Whether `args` is the command line (entry points often pass `Deno.args` on explicitly). */
function sameArgs(args: string[], command: string[]): boolean {
  return args.length === command.length && args.every((a, i) => a === command[i]);
}

/** The docs of the defaults' keys in `module`, or undefined when its source cannot be read. */
function readableDocs(module: string | URL, keys: string[]): ModuleDocs | undefined {
  try {
    return moduleDocs(module, keys);
  } catch {
    // Not a readable file (a notebook's kernel, a remote module): the defaults' types still check.
    return undefined;
  }
}

/** The `--help` text of the entry point `module`. */
function helpText(defaults: Record<string, unknown>, module: string | URL, positional?: string) {
  const url = new URL(module);
  const path = url.protocol === "file:" ? url.pathname : url.href;
  const cwd = `${Deno.cwd()}/`;
  const shownPath = path.startsWith(cwd) ? path.slice(cwd.length) : path;
  return formatHelp(defaults, {
    docs: moduleDocs(module, Object.keys(defaults)),
    command: `deno run -A ${shownPath}`,
    positional,
  });
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
  const explicit = new Set([...explicitFlags(args)].map((typed) => flagKey(typed, flags)));
  const kept = Object.entries(preset).filter(([key]) => !explicit.has(key));
  return { ...flags, ...Object.fromEntries(kept) };
}
