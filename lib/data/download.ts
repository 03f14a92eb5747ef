/**
 * Downloading the CIFAR archives, for users with network (the project's build machines have none):
 *   bin/deno run -A scripts/dataset.ts download cifar10
 * (or call downloadCifar). The archive is streamed into a temporary file and hashed as it arrives;
 * only an archive of the official size, MD5 and SHA-256 is kept and extracted under data/cache/.
 *
 * The URL is a setting (--url, or SAM_AT_CIFAR10_URL / SAM_AT_CIFAR100_URL): a mirror, or a local
 * server in tests. An archive from any other URL than the official one is checked against a
 * checksum given with it (--sha256, or SAM_AT_CIFAR10_SHA256 / SAM_AT_CIFAR100_SHA256); without
 * one it is refused, so nothing ever accepts an archive that was not verified.
 */
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { type ArchiveChecksum, describeChecksum } from "./checksum.ts";
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
  /** Default: the official URL. Any other URL needs `checksum` too (else one sentence). */
  url?: string;
  /** Default: the official size and hashes. Must hold an MD5 or a SHA-256. */
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
  if (url !== official.url && !options.checksum) {
    throw new DatasetError(unverifiedUrl(name, url, "checksum"));
  }
  const checksum = options.checksum ?? official;
  if (!checksum.md5 && !checksum.sha256) {
    throw new DatasetError(
      `A download of ${url} must be checked against an MD5 or a SHA-256, but the checksum given has neither; give its SHA-256.`,
    );
  }
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
  const byHand = `download ${url} by hand and put it at ${dest} (expected ${
    describeChecksum(expected)
  })`;
  const size = expected.bytes;
  log(
    `Downloading ${url}${size !== undefined ? ` (${(size / 1e6).toFixed(0)} MB)` : ""} to ${dest}`,
  );
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
        if (size !== undefined && received > size) break; // wrong file: stop reading, report below
        md5.update(chunk);
        sha256.update(chunk);
        for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
        if (size !== undefined && received >= nextReport * size) {
          log(`  ${Math.round((100 * received) / size)}%`);
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
    if (size !== undefined && received !== size) {
      throw new DatasetError(
        `Download of ${url} has ${
          received > size ? "more than " : ""
        }${received} bytes, expected ${size}, so it was deleted; retry, or ${byHand}.`,
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

/** What a download may be told from the command line or the environment (all optional). */
export interface DownloadSettings {
  url?: string;
  sha256?: string;
  md5?: string;
  /** The archive's size in bytes (a number, or its decimal text). */
  bytes?: number | string;
}

/** The environment variables of a dataset's download settings. */
export function downloadEnvNames(name: CifarName): { url: string; sha256: string } {
  const prefix = `SAM_AT_${name.toUpperCase()}`;
  return { url: `${prefix}_URL`, sha256: `${prefix}_SHA256` };
}

function unverifiedUrl(name: CifarName, url: string, how: "checksum" | "option"): string {
  const official = CIFAR_ARCHIVES[name];
  const give = how === "checksum"
    ? "pass its checksum (DownloadOptions.checksum)"
    : `add --sha256 HEX (or set ${downloadEnvNames(name).sha256})`;
  return `${url} is not the official ${
    CIFAR_LAYOUTS[name].title
  } URL, so the archive from it must be checked against a checksum you give: ${give}; a mirror of the official archive has SHA-256 ${official.sha256}.`;
}

/**
 * The URL and checksum of a download from settings (command line first, then the environment:
 * SAM_AT_CIFAR10_URL / SAM_AT_CIFAR10_SHA256, CIFAR100 likewise; default the official archive).
 * Another URL than the official one needs a SHA-256 or MD5, else one sentence; a SHA-256 equal to
 * the official one means the official archive (its size and MD5 are checked too).
 */
export function resolveDownload(
  name: CifarName,
  given: DownloadSettings = {},
  env: (key: string) => string | undefined = (key) => Deno.env.get(key),
): { url: string; checksum: ArchiveChecksum } {
  if (!Object.hasOwn(CIFAR_ARCHIVES, name)) {
    throw new DatasetError(`Only cifar10 and cifar100 can be downloaded, not "${name}".`);
  }
  const official = CIFAR_ARCHIVES[name];
  const names = downloadEnvNames(name);
  const from = (key: keyof DownloadSettings, envName?: string) => {
    if (given[key] !== undefined) return { value: String(given[key]), source: `--${key}` };
    const v = envName ? env(envName) : undefined;
    return v ? { value: v, source: envName! } : undefined;
  };
  const url = from("url", names.url);
  const sha256 = from("sha256", names.sha256);
  const md5 = from("md5");
  const bytes = from("bytes");
  if (url) {
    let protocol = "";
    try {
      protocol = new URL(url.value).protocol;
    } catch { /* reported below */ }
    if (protocol !== "http:" && protocol !== "https:") {
      throw new DatasetError(
        `${url.source} must be an http:// or https:// URL, not ${JSON.stringify(url.value)}.`,
      );
    }
  }
  const hex = (v: { value: string; source: string } | undefined, digits: number, what: string) => {
    if (v && !new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(v.value)) {
      throw new DatasetError(
        `${v.source} must be the archive's ${what} (${digits} hex digits), not ${
          JSON.stringify(v.value)
        }.`,
      );
    }
    return v?.value.toLowerCase();
  };
  const sha = hex(sha256, 64, "SHA-256");
  const md = hex(md5, 32, "MD5");
  let size: number | undefined;
  if (bytes) {
    size = /^\d+$/.test(bytes.value) ? Number(bytes.value) : NaN;
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new DatasetError(
        `${bytes.source} must be the archive's size in bytes (a whole number), not ${
          JSON.stringify(bytes.value)
        }.`,
      );
    }
  }
  const target = url?.value ?? official.url;
  const isOfficial = sha === official.sha256 || (sha === undefined && md === official.md5);
  if (target === official.url) {
    const differs = (sha !== undefined && sha !== official.sha256) ||
      (md !== undefined && md !== official.md5) || (size !== undefined && size !== official.bytes);
    if (differs) {
      throw new DatasetError(
        `The official ${
          CIFAR_LAYOUTS[name].title
        } archive is checked against its published checksum (${
          describeChecksum(official)
        }); a checksum of your own goes with an archive from another URL (--url).`,
      );
    }
    return { url: target, checksum: official };
  }
  if (sha === undefined && md === undefined) {
    throw new DatasetError(unverifiedUrl(name, target, "option"));
  }
  if (isOfficial) return { url: target, checksum: official };
  return { url: target, checksum: { sha256: sha, md5: md, bytes: size } };
}
