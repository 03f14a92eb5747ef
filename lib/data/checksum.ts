/**
 * Archive integrity: the size, MD5 and SHA-256 a dataset archive must match before anything reads
 * it (lib/data/cifar.ts checks an archive found on disk, lib/data/download.ts a download).
 */
import { createHash } from "node:crypto";
import { DatasetError } from "./dataset.ts";

/** What a downloaded archive must match before anything reads it. */
export interface ArchiveChecksum {
  /** Checked when given (an archive named only by its SHA-256 may leave the size out). */
  bytes?: number;
  /** Checked when given (the official CIFAR archives publish one; the JPEG copy only a SHA-256). */
  md5?: string;
  /** Checked too when given (the official archives have one). */
  sha256?: string;
}

/** Hex MD5 and SHA-256 of some bytes (WebCrypto has no MD5, node:crypto has both). */
export function checksums(bytes: Uint8Array): { md5: string; sha256: string } {
  return {
    md5: createHash("md5").update(bytes).digest("hex"),
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

/** What a checksum asks for, for messages: "MD5 …, SHA-256 …, 123 bytes" (the fields given). */
export function describeChecksum(c: ArchiveChecksum): string {
  return [
    c.md5 && `MD5 ${c.md5}`,
    c.sha256 && `SHA-256 ${c.sha256}`,
    c.bytes !== undefined && `${c.bytes} bytes`,
  ].filter(Boolean).join(", ");
}

/** Throw a DatasetError (naming `path` and `fix`) unless the bytes match the expected size and hashes. */
export function verifyChecksum(
  bytes: Uint8Array,
  expected: ArchiveChecksum,
  path: string,
  fix: string,
): void {
  if (expected.bytes !== undefined && bytes.length !== expected.bytes) {
    throw new DatasetError(
      `${path} has ${bytes.length} bytes, expected ${expected.bytes}; ${fix}.`,
    );
  }
  const actual = checksums(bytes);
  if (expected.md5 && actual.md5 !== expected.md5.toLowerCase()) {
    throw new DatasetError(`${path} has MD5 ${actual.md5}, expected ${expected.md5}; ${fix}.`);
  }
  if (expected.sha256 && actual.sha256 !== expected.sha256.toLowerCase()) {
    throw new DatasetError(
      `${path} has SHA-256 ${actual.sha256}, expected ${expected.sha256}; ${fix}.`,
    );
  }
}
