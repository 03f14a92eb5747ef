/**
 * README's findings blocks are what the committed results give (bin/deno task findings --write
 * regenerates them), and a changed number in README is caught.
 */
import assert from "node:assert/strict";
import { BLOCKS, generatedBlocks, readmeBlock, withBlocks } from "../lib/report/readme_findings.ts";

const README = new URL("../README.md", import.meta.url);
let cached: ReturnType<typeof generatedBlocks> | undefined;
const blocksOnce = () => (cached ??= generatedBlocks());

Deno.test("README's findings blocks match what the committed results give", () => {
  const readme = Deno.readTextFileSync(README);
  const blocks = blocksOnce();
  for (const name of BLOCKS) {
    const have = readmeBlock(readme, name);
    assert.ok(have !== undefined, `README.md lacks the findings:${name} markers`);
    assert.equal(
      have,
      blocks[name].trim(),
      `README.md's findings:${name} block differs from the results; run bin/deno task findings --write`,
    );
  }
  // Each file's correlations are on its dataset's own robust column, so none is NaN.
  assert.doesNotMatch(blocks.mechanism, /NaN/);
});

Deno.test("a number changed by hand in a README block is told apart from the generated one", () => {
  const readme = Deno.readTextFileSync(README);
  const blocks = blocksOnce();
  const edited = readme.replace(/(<!-- findings:full [^\n]*\n[^]*?)91\.3 ± 0\.1/, "$191.4 ± 0.1");
  assert.notEqual(edited, readme, "the full block shows ST's clean accuracy");
  assert.notEqual(readmeBlock(edited, "full"), blocks.full.trim());
  // Writing the blocks back restores it, and leaves the text around them alone.
  assert.equal(withBlocks(edited, blocks), withBlocks(readme, blocks));
  assert.throws(() => withBlocks("no markers", blocks), /has no <!-- findings:default/);
});
