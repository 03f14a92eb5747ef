/**
 * Downloading the CIFAR archives, for users with network (the project's build machines have none):
 *   bin/deno run -A scripts/dataset.ts download cifar10
 * (or call downloadCifar). The archive is streamed into a temporary file and hashed as it arrives;
 * only an archive of the official size, MD5 and SHA-256 is kept and extracted under data/cache/.
 */
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import type { ArchiveChecksum } from "./checksum.ts";
import {
  CIFAR_ARCHIVES,
  CIFAR_LAYOUTS,
  type CifarName,
  defaultCifarDir,
  extractCifarArchive,
} from "./cifar.ts";
import { DatasetError } from "./dataset.ts";
import { exists, firstLine, isDirectory } from "./files.ts";

export interface DownloadOptions {
  /** Injected in tests; default: the global fetch. */
  fetch?: (url: string) => Promise<Response>;
  /** Default: the official URL. */
  url?: string;
  /** Default: the official size and hashes. */
  checksum?: ArchiveChecksum;
  /** Progress lines; default: stderr. */
  log?: (line: string) => void;
}

/**
 * Download the official binary archive into `cacheDir` (default data/cache/<name>), verify its size,
 * MD5 and SHA-256 before anything uses it, and extract it. Returns the extracted folder. Already
 * extracted: returns at once; archive already there: verified and extracted without downloading.
 */
export async function downloadCifar(
  name: CifarName,
  cacheDir: string = defaultCifarDir(name),
  options: DownloadOptions = {},
): Promise<string> {
  if (!Object.hasOwn(CIFAR_ARCHIVES, name)) {
    throw new DatasetError(`downloadCifar cannot fetch "${name}": use cifar10 or cifar100.`);
  }
  const layout = CIFAR_LAYOUTS[name];
  const official = CIFAR_ARCHIVES[name];
  const url = options.url ?? official.url;
  const checksum = options.checksum ?? official;
  const log = options.log ?? ((line: string) => console.error(line));
  const fetcher = options.fetch ?? ((u: string) => fetch(u));
  const dir = resolve(cacheDir);
  const folder = join(dir, layout.folder);
  const archivePath = join(dir, official.file);

  if (await isDirectory(folder)) return folder;
  await Deno.mkdir(dir, { recursive: true });
  if (!(await exists(archivePath))) {
    await downloadVerified(url, archivePath, checksum, fetcher, log);
  }
  await extractCifarArchive(name, archivePath, dir, checksum);
  log(`${layout.title} ready in ${folder}`);
  return folder;
}

/** Stream `url` into a temp file beside `dest`, hashing as it goes; rename only if size and hashes match. */
async function downloadVerified(
  url: string,
  dest: string,
  expected: ArchiveChecksum,
  fetcher: (url: string) => Promise<Response>,
  log: (line: string) => void,
): Promise<void> {
  const byHand =
    `download ${url} by hand and put it at ${dest} (expected MD5 ${expected.md5}, ${expected.bytes} bytes)`;
  log(`Downloading ${url} (${(expected.bytes / 1e6).toFixed(0)} MB) to ${dest}`);
  let response: Response;
  try {
    response = await fetcher(url);
  } catch (err) {
    throw new DatasetError(`Could not download ${url} (${firstLine(err)}); ${byHand}.`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new DatasetError(
      `Could not download ${url} (HTTP ${response.status}${
        response.statusText ? ` ${response.statusText}` : ""
      }); ${byHand}.`,
    );
  }

  const temp = `${dest}.part-${crypto.randomUUID().slice(0, 8)}`;
  const md5 = createHash("md5");
  const sha256 = createHash("sha256");
  let received = 0;
  let nextReport = 0.1;
  const file = await Deno.open(temp, { write: true, createNew: true });
  try {
    try {
      for await (const chunk of response.body) {
        received += chunk.length;
        if (received > expected.bytes) break; // wrong file: stop reading, report below
        md5.update(chunk);
        sha256.update(chunk);
        for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
        if (received >= nextReport * expected.bytes) {
          log(`  ${Math.round((100 * received) / expected.bytes)}%`);
          nextReport += 0.1;
        }
      }
    } catch (err) {
      throw new DatasetError(
        `Download of ${url} broke off after ${received} bytes (${
          firstLine(err)
        }); retry, or ${byHand}.`,
      );
    } finally {
      file.close();
    }
    if (received !== expected.bytes) {
      throw new DatasetError(
        `Download of ${url} has ${
          received > expected.bytes ? "more than " : ""
        }${received} bytes, expected ${expected.bytes}, so it was deleted; retry, or ${byHand}.`,
      );
    }
    const gotMd5 = md5.digest("hex");
    if (expected.md5 && gotMd5 !== expected.md5.toLowerCase()) {
      throw new DatasetError(
        `Download of ${url} has MD5 ${gotMd5}, expected ${expected.md5}, so it was deleted; retry, or ${byHand}.`,
      );
    }
    const gotSha = sha256.digest("hex");
    if (expected.sha256 && gotSha !== expected.sha256.toLowerCase()) {
      throw new DatasetError(
        `Download of ${url} has SHA-256 ${gotSha}, expected ${expected.sha256}, so it was deleted; retry, or ${byHand}.`,
      );
    }
    await Deno.rename(temp, dest);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}
