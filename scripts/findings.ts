/**
 * README's findings, generated from the committed results (trains and measures nothing): prints
 * the blocks, or with --write replaces them in README.md between their markers; --check exits 1
 * when README differs (tests/readme_findings_test.ts does the same in the test suite).
 *
 *   bin/deno task findings [--write | --check]
 */
import { fileURLToPath } from "node:url";
import { generatedBlocks, readmeBlock, withBlocks } from "../lib/report/readme_findings.ts";
import { parseCli, runCli } from "./cli.ts";

const args = parseCli(
  { write: { type: "boolean", default: false }, check: { type: "boolean", default: false } },
  [
    "usage: bin/deno task findings [--write | --check]",
    "",
    "README's findings (Fashion-MNIST default and full presets, the mechanism paragraph), computed",
    "from the committed results/*.csv and results/*.sharpness.csv. Trains and measures nothing.",
    "",
    "  (no option)  print the generated blocks",
    "  --write      replace the blocks in README.md between their <!-- findings:NAME --> markers",
    "  --check      exit 1 and name the blocks where README.md differs",
  ].join("\n"),
);

const README = fileURLToPath(new URL("../README.md", import.meta.url));

await runCli(() =>
  Promise.resolve().then(() => {
    const blocks = generatedBlocks();
    const readme = Deno.readTextFileSync(README);
    if (args.write) {
      Deno.writeTextFileSync(README, withBlocks(readme, blocks));
      console.log(`README.md: ${Object.keys(blocks).length} findings blocks written.`);
    } else if (args.check) {
      const stale = Object.entries(blocks).filter(([n, t]) => readmeBlock(readme, n) !== t.trim());
      if (stale.length) {
        console.error(
          `README.md's findings differ from the results in: ${
            stale.map(([n]) => n).join(", ")
          }; run bin/deno task findings --write.`,
        );
        Deno.exit(1);
      }
      console.log("README.md's findings match the committed results.");
    } else {
      for (const [name, text] of Object.entries(blocks)) console.log(`## ${name}\n\n${text}\n`);
    }
  })
);
