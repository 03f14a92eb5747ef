/**
 * Datasets from the command line:
 *   bin/deno run -A scripts/dataset.ts download cifar10|cifar100 [dir]   fetch + verify an archive
 *   bin/deno run -A scripts/dataset.ts info <dataset> [dir]              load it and print its shape
 */
import { DatasetError, downloadCifar } from "../lib/data/data.ts";
import { DATASET_NAMES, loadDataset } from "../lib/data/registry.ts";

const USAGE =
  `usage: scripts/dataset.ts download cifar10|cifar100 [dir]  |  scripts/dataset.ts info <dataset> [dir]  (datasets: ${
    DATASET_NAMES.join(", ")
  })`;
const [command, name, dir] = Deno.args;
try {
  if (command === "download" && (name === "cifar10" || name === "cifar100")) {
    console.log(await downloadCifar(name, dir, { log: (line) => console.log(line) }));
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
    console.error(USAGE);
    Deno.exit(2);
  }
} catch (err) {
  if (!(err instanceof DatasetError)) throw err;
  console.error(err.message);
  Deno.exit(1);
}
