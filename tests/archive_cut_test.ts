/**
 * Issue 31: a truncated archive yields one sentence, never a smaller data set. A tar copy cut at
 * a member boundary (every entry it still has is whole, the end-of-archive blocks are gone) used
 * to load with the members it kept; now it is named as truncated.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readImageFolder } from "../lib/data/image_folder.ts";
import { DatasetError } from "../lib/data/dataset.ts";

/** A stand-in decoder (no tfjs): each file is a 1x1 grey image of its first byte. */
const decode = (bytes: Uint8Array) => ({
  height: 1,
  width: 1,
  channels: 1,
  data: bytes.slice(0, 1),
});

Deno.test("image folder: a tar cut at a member boundary, or inside one, is one sentence, not fewer images", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-archive-cut-" });
  try {
    const src = join(dir, "src");
    for (const split of ["train", "test"]) {
      for (const c of ["a", "b"]) {
        Deno.mkdirSync(join(src, split, c), { recursive: true });
        for (const i of [1, 2, 3]) {
          Deno.writeFileSync(join(src, split, c, `${i}.png`), new Uint8Array([i]));
        }
      }
    }
    const tar = join(dir, "folder.tar");
    const made = new Deno.Command("tar", { args: ["cf", tar, "-C", src, "train", "test"] })
      .outputSync();
    assert.ok(made.success);
    const whole = Deno.readFileSync(tar);
    const o = { classes: ["a", "b"], name: "t", decode };
    assert.equal((await readImageFolder(tar, o)).train.n, 6);
    // The end-of-archive blocks (and the record padding) cut off: every member is still there.
    let end = whole.length;
    while (end > 0 && whole[end - 1] === 0) end--;
    const atBoundary = Math.ceil(end / 512) * 512;
    // One member less: the last test image's header and data gone.
    for (const cut of [atBoundary, atBoundary - 1024, atBoundary - 700]) {
      Deno.writeFileSync(tar, whole.subarray(0, cut));
      await assert.rejects(
        readImageFolder(tar, o),
        (e) =>
          e instanceof DatasetError &&
          /^.*folder\.tar is not a valid tar archive \(tar archive is truncated: .*\); download or copy it again\.$/
            .test(e.message),
        `cut at ${cut}`,
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
