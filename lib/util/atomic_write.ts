/**
 * Replace a file so that a process killed at any moment leaves either the old file or the new
 * one, never half of either: write a temp file in the same directory, fsync it, then rename.
 */
import { dirname } from "node:path";

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}`;
  const file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
  try {
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    file.syncSync();
  } finally {
    file.close();
  }
  Deno.renameSync(tmp, path);
}
