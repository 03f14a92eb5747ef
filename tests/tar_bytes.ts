/**
 * Bytes of tar archives for test fixtures: a minimal POSIX ustar writer, independent of
 * lib/data/tar.ts, so the reader is tested against the format and not against itself.
 */
import { concat } from "./idx_bytes.ts";

export function ustarHeader(name: string, size: number, type: string): Uint8Array {
  const h = new Uint8Array(512);
  const put = (offset: number, text: string) => h.set(new TextEncoder().encode(text), offset);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, "0") + "\0";
  put(0, name);
  put(100, octal(0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(1700000000, 12));
  put(148, "        ");
  put(156, type);
  put(257, "ustar\0");
  put(263, "00");
  const sum = h.reduce((a, b) => a + b, 0);
  put(148, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** One entry: header and data padded to whole 512-byte blocks (type "0" file, "5" folder, ...). */
export function tarEntry(name: string, data: Uint8Array, type = "0"): Uint8Array {
  const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
  padded.set(data);
  return concat(ustarHeader(name, data.length, type), padded);
}

/** The entries and the two zero blocks that end an archive. */
export function tarArchive(entries: Uint8Array[]): Uint8Array {
  return concat(...entries, new Uint8Array(1024));
}

/** An archive of files given as (path, bytes), in the order given. */
export function tarOf(files: Iterable<readonly [string, Uint8Array]>): Uint8Array {
  return tarArchive([...files].map(([name, bytes]) => tarEntry(name, bytes)));
}
