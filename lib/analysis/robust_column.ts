/**
 * The robust-accuracy column the mechanism findings read, a property of the results file's dataset
 * fixed before looking at the data (never picked from it), and the labels the prose names it by.
 */
import { type DatasetName, DATASETS } from "../data/dataset.ts";
import { DATASET_SPECS } from "../data/registry.ts";

const FINDINGS_KEY: Readonly<Record<DatasetName, string>> = {
  "fashion-mnist": "pgd10_linf_8_255",
  // The paper's own CIFAR radius (its Table 2: L∞ 1/255, 2/255); at 8/255 every ST/SAM model of
  // our CIFAR-10 (JPEG) grid is at 0%, a constant column nothing can correlate with.
  cifar10: "pgd10_linf_2_255",
  "cifar10-jpeg": "pgd10_linf_2_255",
  cifar100: "pgd10_linf_2_255",
};

/** The eval key of the robust accuracy the findings read for a dataset's runs. */
export function robustKeyOf(dataset: DatasetName): string {
  return FINDINGS_KEY[dataset];
}

/** That column as the prose names it, e.g. "PGD-10 L∞ 8/255". */
export function robustLabelOf(dataset: DatasetName): string {
  return robustLabel(robustKeyOf(dataset));
}

/**
 * The findings' columns of several datasets in one phrase: one label when they agree, else each
 * with its dataset, e.g. "PGD-10 L∞ 8/255 on Fashion-MNIST, L∞ 2/255 on CIFAR-10 (JPEG q75 copy)".
 */
export function robustLabelsOf(datasets: readonly DatasetName[]): string {
  const own = [...new Set(datasets)].sort((a, b) => DATASETS.indexOf(a) - DATASETS.indexOf(b));
  const labels = new Set(own.map(robustLabelOf));
  if (labels.size <= 1) return [...labels][0] ?? robustLabelOf("fashion-mnist");
  return own.map((d, i) =>
    `${i === 0 ? robustLabelOf(d) : robustLabelOf(d).replace(/^PGD-10 /, "")} on ${
      DATASET_SPECS[d].title
    }`
  ).join(", ");
}

/** An eval key as a label: "pgd10_linf_8_255" -> "PGD-10 L∞ 8/255". */
export function robustLabel(key: string): string {
  const m = key.match(/^(pgd10|aa)_(linf|l2)_(\d+)_255$/);
  if (!m) return key;
  return `${m[1] === "aa" ? "AutoAttack" : "PGD-10"} ${m[2] === "linf" ? "L∞" : "L2"} ${m[3]}/255`;
}
