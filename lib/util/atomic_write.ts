/**
 * Replace a file so that a process killed at any moment leaves either the old file or the new
 * one, never half of either: write a temp file `<name>.tmp-<pid>` in the same directory, fsync it,
 * then rename. A symlink is followed (its target is replaced, the link kept). A failed write
 * removes its temp file and says in one sentence what to fix (disk full, a directory in the way,
 * no permission); a read-only file or another user's is refused, never replaced. Temp files of
 * writers that were killed are removed by removeStaleTemps.
 */
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { pidAlive } from "./lock.ts";
import { UserError } from "./user_error.ts";

/** A write that failed for a reason the user can fix; the message says which and how. */
export class FileWriteError extends UserError {
  override name = "FileWriteError";
}

/** The error to show for a failed write of `path`: a FileWriteError sentence where one fits. */
export function explainWriteError(err: unknown, path: string): unknown {
  const code = (err as { code?: string })?.code;
  const why = (err as Error)?.message;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new FileWriteError(
      `Disk full while writing ${path}; free space and rerun: finished runs are kept.`,
    );
  }
  if (err instanceof Deno.errors.IsADirectory || code === "EISDIR") {
    return new FileWriteError(
      `Cannot write ${path}: a directory is in its place; move it away or name another file.`,
    );
  }
  if (err instanceof Deno.errors.NotADirectory || code === "ENOTDIR") {
    return new FileWriteError(
      `Cannot write ${path}: part of its folder path is a file, not a folder; name another path.`,
    );
  }
  if (err instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM") {
    return new FileWriteError(
      `Cannot write ${path}: permission denied (${why}); make its folder writable or name another path.`,
    );
  }
  if (code === "EROFS") {
    return new FileWriteError(
      `Cannot write ${path}: the file system is read-only; name a path on a writable disk.`,
    );
  }
  return err;
}

/** The file a write of `path` should replace: the final target of a symlink, else path. */
export function writeTarget(path: string): string {
  let p = path;
  for (let hops = 0; hops < 40; hops++) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(p);
    } catch {
      return p;
    }
    if (!info.isSymlink) return p;
    const link = Deno.readLinkSync(p);
    p = isAbsolute(link) ? link : resolve(dirname(p), link);
  }
  return p;
}

/**
 * The path a file really lives at, resolved once so that every process keys its lock and puts the
 * files beside it on the same path: symlinks followed, in its folders too (for a file not there
 * yet, its nearest existing folder is resolved).
 */
export function realPathOf(path: string): string {
  const target = writeTarget(resolve(path));
  const rest: string[] = [];
  for (let p = target;;) {
    try {
      return join(Deno.realPathSync(p), ...rest);
    } catch { /* not there yet: resolve its folder */ }
    const up = dirname(p);
    if (up === p) return target;
    rest.unshift(basename(p));
    p = up;
  }
}

/**
 * Why this process must not replace the existing file at path, with the fix, or null: it is
 * read-only, or it belongs to another user (a rename would hand it to this user, and in a sticky
 * folder it fails only at the end).
 */
export function replaceProblem(path: string): { why: string; fix: string } | null {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch {
    return null; // absent (or unreadable: the read says so)
  }
  if (!st.isFile) return null;
  const me = Deno.uid();
  if (me !== null && st.uid !== null && st.uid !== me) {
    return {
      why: `belongs to user ${st.uid}, not to this user (${me})`,
      fix: "copy it to a file of your own or name another",
    };
  }
  if (st.mode !== null && (st.mode & 0o200) === 0) {
    return {
      why: `is read-only (mode ${(st.mode & 0o777).toString(8)})`,
      fix: "make it writable (chmod u+w) or name another",
    };
  }
  return null;
}

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  // Renaming over a symlink would replace the link itself by a regular file.
  const target = writeTarget(path);
  const refused = replaceProblem(target);
  if (refused) {
    throw new FileWriteError(`Cannot write ${path}: it ${refused.why}; ${refused.fix} path.`);
  }
  const tmp = `${target}.tmp-${Deno.pid}`;
  try {
    Deno.mkdirSync(dirname(target), { recursive: true });
    const file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
      file.syncSync();
    } finally {
      file.close();
    }
    Deno.renameSync(tmp, target);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never created, or renamed */ }
    throw explainWriteError(err, path);
  }
}

const TEMP_NAME = /\.tmp-(\d+)(?:-[0-9a-f]+)?$/;

/**
 * Remove the temp files (`*.tmp-<pid>`) in `dir` whose writer process is no longer alive, only
 * those whose name starts with `prefix` when given; returns the removed paths.
 */
export function removeStaleTemps(dir: string, prefix = ""): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return removed;
  }
  for (const e of entries) {
    const m = TEMP_NAME.exec(e.name);
    if (!e.isFile || !m || !e.name.startsWith(prefix) || pidAlive(Number(m[1]))) continue;
    const path = join(dir, e.name);
    try {
      Deno.removeSync(path);
      removed.push(path);
    } catch { /* removed by another process meanwhile */ }
  }
  return removed;
}
