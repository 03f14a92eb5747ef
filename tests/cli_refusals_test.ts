/**
 * Issue 31 #9: every CLI refuses what it cannot do with one sentence and exit 2, before any work:
 * an unknown row or a missing results file for the sharpness and cost-check scripts, and a row
 * that --help lists but the preset lacks, named as such (not "Unknown row").
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

async function cli(script: string, args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `scripts/${script}`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr).trim() };
}

Deno.test("CLIs: an unknown row, a missing or foreign results file, a row outside the preset: exit 2 with one sentence (issue 31 #9)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-cli-refusals-" });
  try {
    const readme = `${dir}/README.md`;
    Deno.writeTextFileSync(readme, "# not a CSV\n");
    const cases: [string, string[], RegExp][] = [
      [
        "sharpness.ts",
        ["--rows", "bogus", "--results", "results/fashion-mnist-full.csv"],
        /^Unknown row "bogus": use a comma list of ST, SAM-0\.05, .*\.$/,
      ],
      [
        "sharpness.ts",
        ["--results", "/nonexistent/x.csv"],
        /^Results file \/nonexistent\/x\.csv does not exist; name a runs CSV with --results, e\.g\. results\/fashion-mnist-full\.csv\.$/,
      ],
      [
        "sharpness.ts",
        ["--results", readme],
        /README\.md is not a results CSV of this project .*name a new file with --results or move this one away\.$/,
      ],
      [
        "cost_check.ts",
        ["--results", "/nonexistent.csv"],
        /^Results file \/nonexistent\.csv does not exist; name a runs CSV with --results, e\.g\. results\/fashion-mnist-default\.csv\.$/,
      ],
      [
        "experiment.ts",
        ["--dry-run", "--rows", "ASAM-0.5"],
        /^Row "ASAM-0\.5" is not in preset fashion-mnist\/default \(its rows: ST, .*\); it is in preset full: add --preset full\.$/,
      ],
    ];
    // A measure cache this user may not replace: refused before any measure is computed.
    const runs = `${dir}/full.csv`;
    Deno.copyFileSync(`${root}results/fashion-mnist-full.csv`, runs);
    Deno.copyFileSync(
      `${root}results/fashion-mnist-full.sharpness.csv`,
      `${dir}/full.sharpness.csv`,
    );
    Deno.chmodSync(`${dir}/full.sharpness.csv`, 0o444);
    cases.push([
      "sharpness.ts",
      ["--results", runs],
      /^Measure cache .*full\.sharpness\.csv is read-only \(mode 444\); make it writable \(chmod u\+w\) or name another results file with --results\.$/,
    ]);
    for (const [script, args, want] of cases) {
      const r = await cli(script, args);
      assert.equal(r.code, 2, `${script} ${args.join(" ")}: ${r.err}`);
      assert.match(r.err, want, `${script} ${args.join(" ")}`);
      assert.equal(r.err.split("\n").length, 1, `one line: ${r.err}`);
    }
    // --help says which rows a preset has.
    const help = await cli("experiment.ts", ["--help"]);
    assert.match(help.out, /ASAM-0\.5, .* only in presets that list them \(fashion-mnist: full[;)]/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
