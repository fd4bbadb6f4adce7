/**
 * The command line's two answers a person reads: `--help` (the entry point's question, its flags
 * with type, default and meaning, an example) and a one-line error with exit status 2 for bad
 * input. `parseFlags` uses both, so every entry point gets them.
 *
 * @module
 */
import { type Accepts, type ModuleDocs, readModuleDocs } from "./_flag_docs.ts";
import type { BackendPreference } from "../backend/mod.ts";

/** Exit status of a command-line usage error (as in POSIX utilities and Deno's own CLI). */
export const USAGE_EXIT_STATUS = 2;

/**
 * Bad input at the command line (an unknown flag, a malformed value, a value out of range): an
 * uncaught one prints `error: <message>` on one line and exits with status 2, without a stack,
 * once `parseFlags` has parsed the command line (which installs that handler): an entry
 * point checks its other input after its flags. A TypeError (a value of the wrong kind), so code
 * that catches those keeps working.
 *
 * @example
 * ```ts
 * import { UsageError } from "./cli.ts";
 * const err = new UsageError('--steps expects an integer ≥ 1, got "abc"');
 * console.log(err.name, err instanceof TypeError); // UsageError true
 * ```
 */
export class UsageError extends TypeError {
  /**
   * A usage error with its one-line message.
   *
   * @param message What was expected and what came, one line.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The names `--backend` takes: the keys of a record over lib/backend's `BackendPreference`, so
 * that the type checker holds this list to that type (importing lib/backend's value would load
 * TensorFlow.js before `--help` could answer).
 */
export const BACKENDS: Readonly<Record<BackendPreference, true>> = {
  auto: true,
  tensorflow: true,
  webgpu: true,
  wasm: true,
  cpu: true,
};

let handlerInstalled = false;

/**
 * Installs, once, the process-wide handler that turns an uncaught {@link UsageError} into one line
 * on stderr and exit status 2; any other error keeps Deno's default report (its stack). An error
 * thrown while the main module evaluates arrives as `unhandledrejection` (module evaluation is a
 * promise); one thrown from a callback arrives as `error`.
 */
export function exitOnUsageError(): void {
  if (handlerInstalled) return;
  handlerInstalled = true;
  const report = (event: Event, err: unknown) => {
    if (!(err instanceof UsageError)) return;
    event.preventDefault();
    console.error(`error: ${err.message}`);
    Deno.exit(USAGE_EXIT_STATUS);
  };
  globalThis.addEventListener("unhandledrejection", (e) => report(e, e.reason));
  globalThis.addEventListener("error", (e) => report(e, e.error));
}

/** Reads the docs of `keys` from a module (a file URL). */
export function moduleDocs(module: string | URL, keys: string[]): ModuleDocs {
  const load = (specifier: string) => {
    try {
      return Deno.readTextFileSync(new URL(specifier, module));
    } catch {
      return undefined; // its keys then show as undocumented, which the help refuses
    }
  };
  return readModuleDocs(Deno.readTextFileSync(new URL(module)), keys, load);
}

/** How a default is shown in the help. */
function shown(value: unknown): string {
  if (Array.isArray(value)) return value.join(",");
  if (value === "") return '""';
  return String(value);
}

/** The type column: the `@accepts` text, else the default's type. */
export function typeOf(value: unknown, accepts: Accepts | undefined): string {
  if (accepts) return Array.isArray(value) ? `list of ${accepts.text}` : accepts.text;
  if (Array.isArray(value)) return typeof value[0] === "number" ? "list of numbers" : "list";
  return typeof value;
}

/** Options of {@link formatHelp}. */
export interface HelpOptions {
  /** The entry point's docs (see {@link moduleDocs}). */
  docs: ModuleDocs;
  /** The command that runs the entry point, e.g. `deno run -A experiments/demo.ts`. */
  command: string;
  /** Positional arguments, as the usage line shows them (e.g. `[SUITE ...]`). */
  positional?: string;
}

/**
 * The `--help` text of an entry point: its question, usage, one line per flag (name, type,
 * default, meaning), the common flags and an example.
 *
 * @param defaults The defaults object of the entry point.
 * @param options Its docs and command.
 * @returns The text.
 * @throws {Error} When a flag has no JSDoc (every flag must say what it means).
 */
export function formatHelp(defaults: Record<string, unknown>, options: HelpOptions): string {
  const { docs, command } = options;
  const missing = Object.keys(defaults).filter((k) => !docs.flags.has(k));
  if (missing.length > 0) {
    throw new Error(
      `no JSDoc for flag(s) ${missing.join(", ")} in the entry point's defaults` +
        (docs.found ? "" : " (no `const NAME = { ... }` literal with every key was found)"),
    );
  }
  const rows = Object.entries(defaults).map(([key, value]) => {
    const doc = docs.flags.get(key)!;
    return [`--${key}`, typeOf(value, doc.accepts), shown(value), doc.meaning];
  });
  if (!("backend" in defaults)) {
    rows.push([
      "--backend",
      "string",
      "auto",
      `Backend to start: ${
        Object.keys(BACKENDS).join(", ")
      }; unset: $DALLE_LAB_BACKEND, else auto.`,
    ]);
  }
  rows.push(["--help", "", "", "Print this help and exit."]);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
  const table = rows.map((r) =>
    `  ${r.slice(0, 3).map((cell, c) => cell.padEnd(widths[c])).join("  ")}  ${r[3]}`.trimEnd()
  );
  const usage = `${command}${
    options.positional ? ` ${options.positional}` : ""
  } [--flag=value ...]`;
  const example = docs.example ?? `${command}${"quick" in defaults ? " --quick" : ""}`;
  return [
    docs.question,
    "",
    `Usage: ${usage}`,
    "",
    "Flags (name, type, default, meaning):",
    ...table,
    "",
    `Example: ${example}`,
  ].join("\n");
}

/** Whether a value satisfies an `@accepts` tag; numbers arrive as numbers. */
export function accepted(value: number | string, accepts: Accepts): boolean {
  if (accepts.choices) return accepts.choices.includes(String(value));
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  if (accepts.integer && !Number.isInteger(value)) return false;
  const { min, max } = accepts;
  if (min && (min.inclusive ? value < min.value : value <= min.value)) return false;
  if (max && (max.inclusive ? value > max.value : value >= max.value)) return false;
  return true;
}

/** `an integer ≥ 1`, `a number`, `one of fashion, shapes`: what an error says was expected. */
export function expected(accepts: Accepts | undefined, fallback: string): string {
  if (!accepts) return fallback;
  if (accepts.choices) return `one of ${accepts.choices.join(", ")}`;
  return `${accepts.integer ? "an" : "a"} ${accepts.text}`;
}
