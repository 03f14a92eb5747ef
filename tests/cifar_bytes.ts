/**
 * Bytes of CIFAR binary archives for test fixtures, in the official layout (cifar-10-batches-bin/
 * with five training batches, a test batch and batches.meta.txt; cifar-100-binary/), with a
 * handful of records each, so the download -> checksum -> extract -> load path runs in
 * milliseconds.
 */
import { gzipSync } from "node:zlib";
import { type ArchiveChecksum, checksums } from "../lib/data/checksum.ts";
import { tarArchive, tarEntry } from "./tar_bytes.ts";

/** Channel c of pixel p (= y*32+x) of CIFAR record k: R, G and B differ, so a wrong transpose shows. */
export const cifarPixel = (k: number, c: number, p: number) => (c * 85 + p * 3 + k * 11) % 256;

export function cifarRecords(labels: number[][]): Uint8Array {
  const labelBytes = labels[0].length;
  const out = new Uint8Array(labels.length * (labelBytes + 3072));
  labels.forEach((ls, k) => {
    const rec = k * (labelBytes + 3072);
    out.set(ls, rec);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) out[rec + labelBytes + c * 1024 + p] = cifarPixel(k, c, p);
    }
  });
  return out;
}

const CIFAR10_NAMES = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
const CIFAR100_NAMES = Array.from({ length: 100 }, (_, i) => `class_${i}`).join("\n") + "\n";

/** The files of an extracted cifar-10-batches-bin: batch i holds one record with label i (test: two). */
export function cifar10Files(): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {
    "batches.meta.txt": new TextEncoder().encode(CIFAR10_NAMES),
    "test_batch.bin": cifarRecords([[7], [9]]),
  };
  for (let i = 1; i <= 5; i++) files[`data_batch_${i}.bin`] = cifarRecords([[i]]);
  return files;
}

/** cifar-100-binary: coarse label first, fine label second (the fine one is wanted). */
export function cifar100Files(): Record<string, Uint8Array> {
  return {
    "fine_label_names.txt": new TextEncoder().encode(CIFAR100_NAMES),
    "train.bin": cifarRecords([[3, 42], [19, 99], [0, 0]]),
    "test.bin": cifarRecords([[7, 77]]),
  };
}

/** cifar-10-binary.tar (uncompressed) with a folder entry and a file the loader does not need. */
export function cifar10Tar(): Uint8Array {
  const folder = "cifar-10-batches-bin";
  return tarArchive([
    tarEntry(`${folder}/`, new Uint8Array(0), "5"),
    tarEntry(`${folder}/readme.html`, new TextEncoder().encode("<html></html>")),
    ...Object.entries(cifar10Files()).map(([name, bytes]) => tarEntry(`${folder}/${name}`, bytes)),
  ]);
}

export function checksumOf(bytes: Uint8Array): ArchiveChecksum {
  return { bytes: bytes.length, ...checksums(bytes) };
}

/** cifar-10-binary.tar.gz as served: a plain Uint8Array (not a Buffer). */
export function cifar10TarGz(): Uint8Array {
  return new Uint8Array(gzipSync(cifar10Tar()));
}
