/**
 * The dataset loaders' public names in one import, for the modules that import them from here.
 * Each idea has its own file:
 *
 *   dataset.ts        Dataset, DatasetSplits, DatasetName, DATASETS, DatasetError
 *   fashion_mnist.ts  Fashion-MNIST's IDX files: loadFashionMnist, fashionMnistAbsence, defaults
 *   cifar.ts          CIFAR-10/100: archives, layouts, loadCifar10/100, cifarAbsence, extraction
 *   checksum.ts       checksums, verifyChecksum (size, MD5, SHA-256 of an archive)
 *   download.ts       downloadCifar (streamed, verified, then extracted)
 *   subset.ts         subset: seeded class-stratified subsets
 *   files.ts          small file helpers shared by the loaders
 *
 * New code may import from those files directly; this module only re-exports them.
 */
export {
  type Dataset,
  DatasetError,
  type DatasetName,
  DATASETS,
  type DatasetSplits,
} from "./dataset.ts";
export {
  defaultFashionMnistDir,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEFAULT_DIR,
  fashionMnistAbsence,
  loadFashionMnist,
} from "./fashion_mnist.ts";
export {
  CIFAR_ARCHIVES,
  cifarAbsence,
  type CifarLoadOptions,
  type CifarName,
  cifarSource,
  defaultCifarDir,
  loadCifar10,
  loadCifar100,
} from "./cifar.ts";
export {
  type ArchiveChecksum,
  checksums,
  describeChecksum,
  verifyChecksum,
} from "./checksum.ts";
export {
  downloadCifar,
  downloadEnvNames,
  type DownloadOptions,
  type DownloadSettings,
  resolveDownload,
} from "./download.ts";
export { subset } from "./subset.ts";
