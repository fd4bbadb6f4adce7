/**
 * The code a run ran: the git commit of the toolkit's checkout and whether its tree differed from
 * that commit. A figure is only as trustworthy as the code that made it, so every run folder's
 * `config.json` carries this beside the backend and the machine.
 *
 * @module
 */

/** The toolkit's code version, as recorded in `config.json` under `code`. */
export interface CodeVersion {
  /** The checkout's HEAD commit (40 hex digits), or null when it could not be read. */
  commit: string | null;
  /**
   * Whether tracked or untracked (not ignored) files outside `data/` differ from `commit`: the
   * run's code is then not exactly that commit. Null when unknown.
   */
  dirty: boolean | null;
  /** Paths that differ (at most 20, then "…"), so a dirty run says where it departed. */
  changed: string[];
  /** Why the version is unknown; absent when it is known. */
  unknown?: string;
}

/** The toolkit's own checkout: two folders above this file (lib/log/). */
const CHECKOUT = new URL("../../", import.meta.url);

let cached: Promise<CodeVersion> | null = null;

async function git(args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).trim().split("\n")[0]);
  return new TextDecoder().decode(out.stdout);
}

/**
 * The git commit and dirtiness of the checkout at `dir`, read now. Never throws: an unknown version
 * says why in `unknown`.
 *
 * @param dir A folder inside a git checkout, as a path or a `file:` URL.
 * @returns The code version.
 */
export async function readCodeVersion(dir: string | URL): Promise<CodeVersion> {
  if (dir instanceof URL && dir.protocol !== "file:") {
    return { commit: null, dirty: null, changed: [], unknown: `code loaded from ${dir}` };
  }
  const cwd = dir instanceof URL ? decodeURIComponent(dir.pathname) : dir;
  try {
    const commit = (await git(["rev-parse", "HEAD"], cwd)).trim();
    const status = await git(["status", "--porcelain", "--no-renames"], cwd);
    // data/ holds what runs write (the figures the README shows are kept in git): outputs, not
    // code, so a run that regenerates one does not make the next run's code "dirty".
    const paths = status.split("\n").filter((line) => line.length > 3).map((line) => line.slice(3))
      .filter((path) => !path.startsWith("data/"));
    const changed = paths.length > 20 ? [...paths.slice(0, 20), "…"] : paths;
    return { commit, dirty: paths.length > 0, changed };
  } catch (err) {
    const why = err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied
      ? "no permission to run git (--allow-run)"
      : err instanceof Deno.errors.NotFound
      ? "git is not installed"
      : `git failed: ${(err as Error).message}`;
    return { commit: null, dirty: null, changed: [], unknown: why };
  }
}

/**
 * The toolkit's git commit and whether its tree is dirty, read once per process (a run's code
 * cannot change under it). Never throws: an unknown version says why in `unknown`.
 *
 * @returns The code version.
 * @example
 * ```ts
 * import { codeVersion } from "./code_version.ts";
 * const code = await codeVersion();
 * console.log(code.commit === null || /^[0-9a-f]{40}$/.test(code.commit)); // true
 * ```
 */
export function codeVersion(): Promise<CodeVersion> {
  cached ??= readCodeVersion(CHECKOUT);
  return cached;
}
