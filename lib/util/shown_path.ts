/**
 * A path as messages show it: relative to the repository when inside it, so that reports and
 * logs stay portable; absolute elsewhere. The repository's real path: a symlinked checkout or
 * results file still reads as relative.
 */
import { isAbsolute, relative } from "node:path";
import { realPathOf } from "./atomic_write.ts";
import { REPO_ROOT } from "./repo_root.ts";

/** The checkout's real path (symlinks followed), without a trailing "/". */
export const REAL_REPO_ROOT: string = realPathOf(REPO_ROOT);

export function shownPath(path: string): string {
  const rel = relative(REAL_REPO_ROOT, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
