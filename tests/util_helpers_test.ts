/** The small shared helpers of lib/util/: FNV-1a, canonical JSON, the repository root, Jupyter. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "../lib/util/canonical_json.ts";
import { fnv1a, FNV1A_OFFSET, fnv1aText, hex8 } from "../lib/util/fnv1a.ts";
import { jupyterAvailable } from "../lib/util/jupyter.ts";
import { REPO_ROOT } from "../lib/util/repo_root.ts";
import { seedFromString } from "../lib/util/rng.ts";

Deno.test("fnv1a: the published 32-bit FNV-1a test vectors", () => {
  assert.equal(fnv1aText(""), FNV1A_OFFSET);
  assert.equal(hex8(fnv1aText("a")), "e40c292c");
  assert.equal(hex8(fnv1aText("foobar")), "bf9cf968");
  assert.equal(fnv1a(new TextEncoder().encode("foobar")), 0xbf9cf968);
  // Chained: hashing a, then b from a's hash, is hashing ab.
  assert.equal(fnv1a([98], fnv1aText("a")), fnv1aText("ab"));
  assert.equal(seedFromString("foobar"), 0xbf9cf968);
});

Deno.test("canonicalJson: keys sorted at any depth, arrays in order, JSON.stringify otherwise", () => {
  assert.equal(
    canonicalJson({ b: 1, a: [{ d: null, c: "x" }] }),
    '{"a":[{"c":"x","d":null}],"b":1}',
  );
  assert.equal(canonicalJson([3, 1]), "[3,1]");
  assert.equal(canonicalJson(undefined), undefined);
  assert.equal(canonicalJson(0.1), "0.1");
});

Deno.test("repo root and Jupyter: the checkout's root folder; no kernel in tests", () => {
  assert.ok(REPO_ROOT.endsWith("/"));
  assert.ok(existsSync(join(REPO_ROOT, "deno.json")) && existsSync(join(REPO_ROOT, "lib", "util")));
  assert.equal(jupyterAvailable(), false);
});
