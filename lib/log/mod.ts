/**
 * Run logging: a run folder `data/runs/<experiment>/<UTC timestamp>_<tag>/` holding `config.json`
 * (the run's configuration and the backend it ran on) and `metrics.csv` (one row per logged step,
 * `step` first), progress lines on the terminal (and so in notebooks), and flags parsed against a
 * defaults object, with `--backend` understood by every experiment.
 *
 * @module
 */
import * as aq from "arquero";
import { type BackendPreference, ensureBackend, tf } from "../backend/mod.ts";
import { writeFileAtomic } from "../nn/mod.ts";

/** One metrics row: `step` plus snake_case metrics with units in their names. */
export type MetricsRow = Record<string, number | string | boolean | null>;

/** Options of {@link RunLog.create}. */
export interface RunLogOptions {
  /** Experiment name, the folder under `root`. */
  experiment: string;
  /** Short tag appended to the timestamp (e.g. "beta6.6_cosine"). @default "run" */
  tag?: string;
  /** The run's configuration, saved as `config.json`. @default {} */
  config?: unknown;
  /** Root folder of all runs. @default "data/runs" */
  root?: string;
  /** Rewrite `metrics.csv` every this many rows (0: only on `flush`). @default 50 */
  flushEvery?: number;
  /** Print a progress line every this many rows (0: never). @default 10 */
  printEvery?: number;
  /** Total steps, for the ETA in progress lines. */
  totalSteps?: number;
  /** Write files at all (false keeps rows in memory only, e.g. for tests). @default true */
  write?: boolean;
}

/**
 * `config.json`'s content: the configuration with `backend` (the backend in use) first. An own
 * `backend` key of the configuration (e.g. the `--backend` asked for, maybe `auto`) is replaced by
 * the name in use; a configuration that is not a plain object is kept under `config`.
 */
function withBackend(config: unknown, backend: string): Record<string, unknown> {
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    return config === undefined ? { backend } : { backend, config };
  }
  const { backend: _asked, ...rest } = config as Record<string, unknown>;
  return { backend, ...rest };
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * A run's metrics table and folder.
 *
 * @example
 * ```ts
 * import { RunLog } from "./mod.ts";
 * const run = await RunLog.create({ experiment: "demo", config: { lr: 1e-3 }, write: false });
 * run.log({ step: 0, loss: 2.5 });
 * run.log({ step: 1, loss: 2.1 });
 * console.log(run.table().numRows()); // 2
 * await run.flush();
 * ```
 */
export class RunLog {
  readonly rows: MetricsRow[] = [];
  readonly #started = performance.now();
  #sinceFlush = 0;

  private constructor(
    /** The run folder (`""` when not writing). */
    readonly dir: string,
    /**
     * The backend the run computes on (`tf.getBackend()` when the log was made), as recorded in
     * `config.json`; `""` for a log that does not write and was made before any backend started.
     */
    readonly backend: string,
    readonly options: Required<Omit<RunLogOptions, "totalSteps" | "config">> & {
      totalSteps?: number;
    },
  ) {}

  /**
   * Creates the run folder and writes `config.json`: the configuration, with `backend` set to the
   * name of the backend in use (`tf.getBackend()`). Make the log after `initBackend`: where no
   * backend has started yet, a writing log starts the default one (`ensureBackend`).
   *
   * @param options See {@link RunLogOptions}.
   * @returns The log.
   */
  static async create(options: RunLogOptions): Promise<RunLog> {
    if (!/^[\w.-]+$/.test(options.experiment)) {
      throw new TypeError(
        `experiment name must be letters, digits, _ . -; got "${options.experiment}"`,
      );
    }
    const tag = (options.tag ?? "run").replace(/[^\w.-]+/g, "-");
    const root = options.root ?? "data/runs";
    const write = options.write ?? true;
    const dir = write ? `${root}/${options.experiment}/${stamp(new Date())}_${tag}` : "";
    const backend = tf.getBackend() || (write ? await ensureBackend() : "");
    const run = new RunLog(dir, backend, {
      experiment: options.experiment,
      tag,
      root,
      flushEvery: options.flushEvery ?? 50,
      printEvery: options.printEvery ?? 10,
      totalSteps: options.totalSteps,
      write,
    });
    if (write) {
      await Deno.mkdir(dir, { recursive: true });
      await writeFileAtomic(
        `${dir}/config.json`,
        JSON.stringify(withBackend(options.config, backend), null, 2) + "\n",
      );
    }
    return run;
  }

  /**
   * Appends a row; prints progress and rewrites `metrics.csv` at the configured intervals.
   *
   * @param row The metrics (`step` first by convention).
   */
  log(row: MetricsRow): void {
    this.rows.push(row);
    const n = this.rows.length;
    if (this.options.printEvery > 0 && (n === 1 || n % this.options.printEvery === 0)) {
      console.log(this.progressLine(row));
    }
    this.#sinceFlush++;
    if (
      this.options.write && this.options.flushEvery > 0 &&
      this.#sinceFlush >= this.options.flushEvery
    ) {
      this.#sinceFlush = 0;
      // Fire and forget would race with the next flush; a sync write keeps the file consistent.
      this.#writeSync();
    }
  }

  /**
   * A one-line summary of a row with elapsed time and ETA.
   *
   * @param row The row to describe.
   * @returns e.g. `[dvae] step 120/2000 loss 0.1234 · 35 s, eta 9.1 min`.
   */
  progressLine(row: MetricsRow): string {
    const elapsedSec = (performance.now() - this.#started) / 1000;
    const parts = Object.entries(row).map(([k, v]) =>
      typeof v === "number" && !Number.isInteger(v) ? `${k} ${v.toPrecision(4)}` : `${k} ${v}`
    );
    let eta = "";
    const step = typeof row.step === "number" ? row.step : null;
    if (this.options.totalSteps && step !== null && step > 0) {
      const left = (elapsedSec / step) * (this.options.totalSteps - step);
      eta = `, eta ${left > 90 ? `${(left / 60).toFixed(1)} min` : `${left.toFixed(0)} s`}`;
    }
    return `[${this.options.experiment}] ${parts.join(" ")} · ${elapsedSec.toFixed(0)} s${eta}`;
  }

  /**
   * The rows as an arquero table.
   *
   * @returns A new table.
   */
  table(): aq.ColumnTable {
    return aq.from(this.rows);
  }

  #csv(): string {
    return this.rows.length === 0 ? "" : this.table().toCSV();
  }

  #writeSync(): void {
    const path = `${this.dir}/metrics.csv`;
    const tmp = `${path}.tmp-${Deno.pid}`;
    Deno.writeTextFileSync(tmp, this.#csv());
    Deno.renameSync(tmp, path);
  }

  /** Writes `metrics.csv` now (atomically). */
  async flush(): Promise<void> {
    if (!this.options.write) return;
    this.#sinceFlush = 0;
    await writeFileAtomic(`${this.dir}/metrics.csv`, this.#csv());
  }

  /**
   * Writes another file into the run folder (atomically), e.g. a summary CSV or a PNG.
   *
   * @param name File name inside the run folder.
   * @param data Bytes or text.
   * @returns The path written ("" when not writing).
   */
  async writeFile(name: string, data: Uint8Array | string): Promise<string> {
    if (!this.options.write) return "";
    const path = `${this.dir}/${name}`;
    await writeFileAtomic(path, data);
    return path;
  }
}

/**
 * Writes rows to a CSV file atomically (through arquero).
 *
 * @param path Target file.
 * @param rows The rows; columns are the union of their keys in first-seen order.
 * @example
 * ```ts
 * import { writeCsv } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await writeCsv(`${dir}/summary.csv`, [{ run: "a", elb_bits_per_dim: 4.2 }]);
 * ```
 */
export async function writeCsv(path: string, rows: MetricsRow[]): Promise<void> {
  await writeFileAtomic(path, rows.length === 0 ? "" : aq.from(rows).toCSV());
}

/**
 * Reads a CSV file into an arquero table (numbers parsed).
 *
 * @param path The file.
 * @returns The table.
 * @example
 * ```ts
 * import { readCsv, writeCsv } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await writeCsv(`${dir}/t.csv`, [{ step: 1, loss: 0.5 }]);
 * console.log((await readCsv(`${dir}/t.csv`)).numRows()); // 1
 * ```
 */
export async function readCsv(path: string): Promise<aq.ColumnTable> {
  return aq.fromCSV(await Deno.readTextFile(path));
}

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
 * import { parseFlags } from "./mod.ts";
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
