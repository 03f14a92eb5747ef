/**
 * Small file helpers shared by the dataset loaders (lib/data/fashion_mnist.ts, cifar.ts,
 * download.ts). Failures become DatasetErrors of one sentence, never a zlib stack trace.
 */
import { gunzipSync } from "node:zlib";
import { DatasetError } from "./dataset.ts";

/** Gunzipped bytes; corrupt gzip data is a DatasetError naming `path` and `fix`. */
export function gunzipOrThrow(bytes: Uint8Array, path: string, fix: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new DatasetError(`${path} is not valid gzip data (${firstLine(err)}); ${fix}.`);
  }
}

/** The file's bytes, or undefined if it does not exist. Other failures (permissions) become DatasetErrors. */
export async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new DatasetError(
      `Cannot read ${path} (${firstLine(err)}); check that it is a readable file.`,
    );
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Whether the path exists; an unreadable parent counts as absent (only for presence checks). */
export function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether the path is a file (not a folder); an unreadable one counts as absent. */
export function isFileSync(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** The first line of an error's message (for one-sentence errors). */
export function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split("\n")[0];
}
