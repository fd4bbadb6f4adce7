/**
 * Holds back what native code writes to stderr while a function runs. TensorFlow's library
 * prints absl INFO lines when it loads ("oneDNN custom operations are on", "All log messages
 * before absl::InitializeLog()…") that `TF_CPP_MIN_LOG_LEVEL` cannot silence, once per process and
 * into every notebook's first output. Those two kinds of line are dropped; anything else the
 * library wrote is passed on, and all of it when the function throws.
 *
 * Needs `--allow-ffi` (granted by `-A`) to reach libc's dup/dup2; without it the function
 * simply runs with stderr as it is.
 *
 * @module
 */

const DROPPED = [
  /All log messages before absl::InitializeLog/,
  /port\.cc:\d+\] oneDNN custom operations/,
];

type Libc = {
  symbols: {
    dup(fd: number): number;
    dup2(from: number, to: number): number;
    close(fd: number): number;
    open(path: Uint8Array, flags: number, mode: number): number;
  };
  close(): void;
};

function openLibc(): Libc | null {
  try {
    return Deno.dlopen("libc.so.6", {
      dup: { parameters: ["i32"], result: "i32" },
      dup2: { parameters: ["i32", "i32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
      open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
    }) as unknown as Libc;
  } catch {
    return null; // no --allow-ffi, or not glibc
  }
}

/**
 * Runs `fn` with file descriptor 2 redirected to a temporary file, then restores it and writes
 * back whatever is not one of TensorFlow's known start-up lines.
 *
 * @param fn The work whose native stderr to filter.
 * @returns What `fn` returns.
 */
export async function filterNativeStderr<T>(fn: () => Promise<T>): Promise<T> {
  const libc = openLibc();
  let path: string | null = null;
  try {
    path = Deno.makeTempFileSync({ prefix: "dalle-lab-stderr-" });
  } catch { /* no --allow-write */ }
  if (!libc || !path) {
    libc?.close();
    return await fn();
  }
  const O_WRONLY = 1, O_APPEND = 0o2000;
  const saved = libc.symbols.dup(2);
  const sink = libc.symbols.open(new TextEncoder().encode(path + "\0"), O_WRONLY | O_APPEND, 0);
  if (saved < 0 || sink < 0 || libc.symbols.dup2(sink, 2) < 0) {
    if (sink >= 0) libc.symbols.close(sink);
    if (saved >= 0) libc.symbols.close(saved);
    libc.close();
    Deno.removeSync(path);
    return await fn();
  }
  let failed = false;
  try {
    return await fn();
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    libc.symbols.dup2(saved, 2);
    libc.symbols.close(saved);
    libc.symbols.close(sink);
    libc.close();
    const text = Deno.readTextFileSync(path);
    Deno.removeSync(path);
    const kept = failed
      ? text
      : text.split("\n").filter((line) => line && !DROPPED.some((re) => re.test(line))).join("\n");
    if (kept.trim()) console.error(kept.trimEnd());
  }
}
