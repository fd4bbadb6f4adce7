/**
 * Atomic file writes: a reader (another process, a notebook, a crash-restarted run) sees the old
 * content or the new, never a torn file.
 *
 * The data goes to a temporary file in the target's folder (a rename is only atomic within one
 * file system), is fsynced (else a power cut after the rename can leave an empty file under the
 * new name), and is renamed over the target; then the folder is fsynced, best effort, so the
 * rename itself is durable. On failure the temporary file is removed.
 *
 * @module
 */

function parentOf(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (slash < 0) return ".";
  return slash === 0 ? path.slice(0, 1) : path.slice(0, slash);
}

function tempPathFor(path: string): string {
  return `${path}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

function asBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

async function syncFolder(dir: string): Promise<void> {
  // Not every platform can open a folder for syncing (Windows cannot); durability of the rename
  // is then the file system's business, and the write has still succeeded.
  try {
    using folder = await Deno.open(dir, { read: true });
    await folder.sync();
  } catch {
    // best effort
  }
}

function syncFolderSync(dir: string): void {
  try {
    using folder = Deno.openSync(dir, { read: true });
    folder.syncSync();
  } catch {
    // best effort, as in syncFolder
  }
}

/**
 * Writes a file so that readers see the old or the new content, never half of it (temporary file
 * in the same folder, fsync, rename over the target, fsync of the folder).
 *
 * @param path Target file; missing parent folders are created.
 * @param data Bytes or text (UTF-8).
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/deep/hello.txt`, "hi");
 * console.log(await Deno.readTextFile(`${dir}/deep/hello.txt`)); // "hi"
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = parentOf(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  try {
    {
      using file = await Deno.open(tmp, { write: true, createNew: true });
      const bytes = asBytes(data);
      for (let offset = 0; offset < bytes.length;) {
        offset += await file.write(bytes.subarray(offset));
      }
      await file.sync();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await syncFolder(dir);
}

/**
 * The synchronous twin of {@link writeFileAtomic}, for writers that must not interleave with an
 * event loop (e.g. a periodic flush inside a synchronous `log` call).
 *
 * @param path Target file; missing parent folders are created.
 * @param data Bytes or text (UTF-8).
 * @example
 * ```ts
 * import { writeFileAtomicSync } from "./atomic.ts";
 * const dir = Deno.makeTempDirSync();
 * writeFileAtomicSync(`${dir}/metrics.csv`, "step,loss\n0,1.5\n");
 * ```
 */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const dir = parentOf(path);
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = tempPathFor(path);
  try {
    {
      using file = Deno.openSync(tmp, { write: true, createNew: true });
      const bytes = asBytes(data);
      for (let offset = 0; offset < bytes.length;) {
        offset += file.writeSync(bytes.subarray(offset));
      }
      file.syncSync();
    }
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // the temporary file may never have been created
    }
    throw err;
  }
  syncFolderSync(dir);
}
