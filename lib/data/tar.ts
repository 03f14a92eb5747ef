/**
 * A small reader for uncompressed tar archives (POSIX ustar, GNU and pax variants), so the CIFAR
 * archives can be unpacked without shelling out to `tar`. It reads the whole archive from memory
 * and returns views into it: the CIFAR archives are ~180 MB once gunzipped, which fits easily.
 *
 * Supported: regular files, directories, GNU long names ('L'), pax extended headers ('x': path and
 * size), base-256 sizes. Other entry types (links, devices, ...) are listed as "other" with no data.
 */
import { UserError } from "../util/user_error.ts";

export interface TarEntry {
  /** Path inside the archive, without a leading "./". */
  name: string;
  type: "file" | "directory" | "other";
  /** The file's bytes (a view into the archive); empty for directories and other entries. */
  data: Uint8Array;
}

/** A structurally broken archive; the message says where (byte offset) and what. */
export class TarError extends UserError {
  override name = "TarError";
}

const BLOCK = 512;

/** Parse every entry of a tar archive held in memory. Throws TarError on a corrupt or truncated archive. */
export function readTar(archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined; // from a GNU 'L' entry, applies to the next entry
  let pax: Record<string, string> = {}; // from a pax 'x' entry, applies to the next entry

  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (isZeroBlock(header)) return entries; // end-of-archive marker
    verifyHeaderChecksum(header, offset);

    const typeFlag = String.fromCharCode(header[156] || 0x30); // NUL means regular file (old tar)
    const size = pax.size !== undefined ? Number(pax.size) : parseSize(header, offset);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new TarError(`tar header at byte ${offset} has an invalid size`);
    }
    if (dataEnd > archive.length) {
      throw new TarError(
        `tar entry at byte ${offset} is truncated: it declares ${size} bytes but the archive ends after ${
          archive.length - dataStart
        }`,
      );
    }
    const data = archive.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (typeFlag === "L") { // GNU long name: the data is the next entry's name
      longName = cString(data);
      continue;
    }
    if (typeFlag === "x") { // pax extended header for the next entry
      pax = parsePax(data, dataStart - BLOCK);
      continue;
    }
    if (typeFlag === "g" || typeFlag === "K") continue; // global pax header, GNU long link name: unused

    const name = normalise(longName ?? pax.path ?? headerName(header));
    longName = undefined;
    pax = {};
    if (typeFlag === "0" || typeFlag === "7") entries.push({ name, type: "file", data });
    else if (typeFlag === "5") entries.push({ name, type: "directory", data: new Uint8Array(0) });
    else entries.push({ name, type: "other", data: new Uint8Array(0) });
  }
  if (offset !== archive.length) {
    throw new TarError(
      `tar archive is truncated: ${archive.length - offset} stray bytes at byte ${offset}`,
    );
  }
  // Every tar writer ends an archive with zero blocks: without them a copy was cut short at a
  // member boundary, and its whole-looking members would load as a smaller data set.
  if (offset > 0) {
    throw new TarError(
      `tar archive is truncated: it ends at byte ${offset} without the end-of-archive blocks`,
    );
  }
  return entries;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** The header checksum is the byte sum with the checksum field read as spaces (some old tars summed signed bytes). */
function verifyHeaderChecksum(header: Uint8Array, offset: number): void {
  const stored = parseOctal(header.subarray(148, 156));
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new TarError(
      `tar header at byte ${offset} has a bad checksum (the archive is corrupt or not a tar file)`,
    );
  }
}

function parseSize(header: Uint8Array, offset: number): number {
  const field = header.subarray(124, 136);
  if (field[0] & 0x80) { // GNU base-256 encoding for sizes >= 8 GiB
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    return value;
  }
  const value = parseOctal(field);
  if (Number.isNaN(value)) {
    throw new TarError(`tar header at byte ${offset} has an unreadable size field`);
  }
  return value;
}

/** Octal number padded with spaces or NULs; NaN if it holds anything else. */
function parseOctal(field: Uint8Array): number {
  const text = cString(field).trim();
  if (text === "") return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : NaN;
}

function headerName(header: Uint8Array): string {
  const name = cString(header.subarray(0, 100));
  const isUstar = cString(header.subarray(257, 263)) === "ustar" && header[262] === 0; // POSIX, not GNU "ustar  "
  const prefix = isUstar ? cString(header.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/** pax records are "<length> <key>=<value>\n", the length counting the record's bytes. */
function parsePax(data: Uint8Array, offset: number): Record<string, string> {
  const records: Record<string, string> = {};
  const decoder = new TextDecoder();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const length = space < 0 ? NaN : Number(decoder.decode(data.subarray(pos, space)));
    if (!Number.isInteger(length) || length <= space - pos || pos + length > data.length) {
      throw new TarError(`pax header at byte ${offset} is malformed`);
    }
    const record = decoder.decode(data.subarray(space + 1, pos + length - 1)); // drop the trailing newline
    const eq = record.indexOf("=");
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return records;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function normalise(name: string): string {
  return name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
}
