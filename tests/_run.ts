/**
 * A command run as a user runs it, for the tests that drive the toolkit from outside: its exit
 * code and its output, without colour codes.
 *
 * @module
 */

/** What a finished command left. */
export interface Ran {
  /** Exit status. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** Both, stdout first (for assertions on either). */
  text: string;
}

/**
 * Runs `command args…` in `cwd` (Deno itself when `command` is "deno"), with NO_COLOR set.
 *
 * @param command A program, or "deno" for this Deno.
 * @param args Its arguments.
 * @param cwd Its working folder. @default the repository's root
 * @returns Exit status and output.
 */
export async function run(command: string, args: string[], cwd?: string): Promise<Ran> {
  const out = await new Deno.Command(command === "deno" ? Deno.execPath() : command, {
    args,
    cwd: cwd ?? new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  return { code: out.code, stdout, stderr, text: stdout + stderr };
}
