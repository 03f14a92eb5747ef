/**
 * Datasets from the command line:
 *   bin/deno run -A scripts/dataset.ts download cifar10|cifar100 [DIR] [--url URL --sha256 HEX]
 *       fetch the binary archive, verify it, extract it (DIR default data/cache/<name>)
 *   bin/deno run -A scripts/dataset.ts check <dataset> [DIR]   where it would load from; reads nothing
 *   bin/deno run -A scripts/dataset.ts info <dataset> [DIR]    load it and print its shape
 * Bad input and missing or damaged data end with one sentence (exit 2).
 */
import { parseArgs } from "node:util";
import {
  CIFAR_ARCHIVES,
  type CifarName,
  DatasetError,
  downloadCifar,
  downloadEnvNames,
  resolveDownload,
} from "../lib/data/data.ts";
import { DATASET_NAMES, datasetSpec, datasetSource, loadDataset } from "../lib/data/registry.ts";
import { fail, runCli } from "./cli.ts";

const HELP = `Fetch, find and load the datasets.

usage:
  scripts/dataset.ts download cifar10|cifar100 [DIR] [--url URL --sha256 HEX [--bytes N]]
      download the official binary archive (or the one at --url), check its size, MD5 and SHA-256
      before anything reads it, and extract it into DIR (default data/cache/<name>); a bad or
      broken download is deleted
  scripts/dataset.ts check <dataset> [DIR]
      where the dataset would load from (DIR, or its default place), or how to get it; reads nothing
  scripts/dataset.ts info <dataset> [DIR]
      load it (for cifar10-jpeg: DIR may be its archive or an image folder) and print its shape

datasets: ${DATASET_NAMES.join(", ")}

  --url URL      another place for the archive (a mirror); also ${downloadEnvNames("cifar10").url} /
                 ${downloadEnvNames("cifar100").url}. Not the official URL: give the archive's
                 checksum too, or it is refused (a mirror of the official archive: CIFAR-10
                 ${CIFAR_ARCHIVES.cifar10.sha256})
  --sha256 HEX   the SHA-256 of the archive at --url; also ${downloadEnvNames("cifar10").sha256} /
                 ${downloadEnvNames("cifar100").sha256}
  --md5 HEX      its MD5 (checked too when given)
  --bytes N      its size in bytes (checked too when given)`;

const USAGE =
  "usage: scripts/dataset.ts download cifar10|cifar100 [DIR] [--url URL --sha256 HEX] | check <dataset> [DIR] | info <dataset> [DIR]; see --help.";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(HELP);
  Deno.exit(0);
}
let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      sha256: { type: "string" },
      md5: { type: "string" },
      bytes: { type: "string" },
    },
  });
} catch (err) {
  fail(`${err instanceof Error ? err.message.split("\n")[0] : err}; see --help.`);
}
const { values, positionals } = parsed;
const [command, name, dir, ...extra] = positionals;
if (extra.length) fail(`Unexpected argument ${JSON.stringify(extra[0])}; ${USAGE}`);

await runCli(async () => {
  if (command !== "download" && Object.values(values).some((v) => v !== undefined)) {
    fail(`--url, --sha256, --md5 and --bytes go with download only; ${USAGE}`);
  }
  if (command === "download" && (name === "cifar10" || name === "cifar100")) {
    const { url, checksum } = resolveDownload(name as CifarName, values);
    console.log(
      await downloadCifar(name, dir, { url, checksum, log: (line) => console.log(line) }),
    );
  } else if (command === "check" && name) {
    const spec = datasetSpec(name);
    const absent = spec.absence(dir);
    if (absent) throw new DatasetError(absent);
    console.log(`${spec.title}: found at ${datasetSource(name, dir)}.`);
  } else if (command === "info" && name) {
    const start = performance.now();
    const splits = await loadDataset(name, dir);
    const seconds = ((performance.now() - start) / 1000).toFixed(2);
    for (const ds of [splits.train, splits.test]) {
      console.log(
        `${ds.name}: ${ds.n} images ${ds.height}x${ds.width}x${ds.channels}, ${ds.numClasses} classes`,
      );
    }
    console.log(`loaded in ${seconds} s`);
  } else {
    fail(USAGE);
  }
});
