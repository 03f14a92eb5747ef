/**
 * The registries (attacks, protocols, datasets, presets, rows): an unknown name is one sentence
 * naming the known ones; Object.prototype names are unknown names, not crashes or lookups of
 * inherited members; column keys are "<attack tag>_<norm>_<eps>".
 */
import assert from "node:assert/strict";
import { epsLabel, NORMS, threatKey, threatLabel } from "../lib/attacks/attack.ts";
import { PROTOCOLS, resolveEval } from "../lib/attacks/protocols.ts";
import { attackNames, ATTACKS, getAttack, resolveAttack } from "../lib/attacks/registry.ts";
import { DatasetError, type DatasetName } from "../lib/data/data.ts";
import {
  DATASET_NAMES,
  DATASET_SPECS,
  datasetSpec,
  isDatasetName,
  loadDataset,
  specOf,
} from "../lib/data/registry.ts";
import {
  autoattack,
  evalColumns,
  EXTENDED_EVALS,
  PAPER_COLUMNS,
  PAPER_EVALS,
  pgd10,
} from "../lib/experiments/columns.ts";
import { ALL_ROWS, ExperimentError, GRID, parseRows, rowById } from "../lib/experiments/grid.ts";
import { getPreset, PRESETS, seedsOf } from "../lib/experiments/presets.ts";
import { resolveMethod } from "../lib/training/method.ts";

const PROTO_NAMES = ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"];
const KNOWN_ATTACKS = "fgsm, pgd, apgd-ce, apgd-t, apgd-dlr, square";

/** Throws one sentence (one line, ends in a full stop) matching `re`, of the error class `cls`. */
function oneSentence(f: () => unknown, cls: new (...a: any[]) => Error, re: RegExp) {
  assert.throws(f, (e: Error) => {
    assert.ok(e instanceof cls, `${e.name}: ${e.message}`);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.message, /\.$/);
    return true;
  });
}

Deno.test("registry: attacks — the known names, and an unknown one answered with all of them", () => {
  assert.deepEqual(attackNames(), KNOWN_ATTACKS.split(", "));
  for (const name of attackNames()) assert.equal(getAttack(name).name, name);
  oneSentence(
    () => getAttack("cw"),
    Error,
    new RegExp(`^Unknown attack "cw": use one of ${KNOWN_ATTACKS}\\.$`),
  );
  for (const name of PROTO_NAMES) {
    oneSentence(() => getAttack(name), Error, new RegExp(`^Unknown attack "${name}": use one of `));
    oneSentence(
      () => resolveAttack({ attack: name, norm: "linf", eps: 0.1 }),
      Error,
      /^Unknown attack /,
    );
    oneSentence(
      () =>
        resolveMethod({
          optimizer: { name: "sgd" },
          perturb: { attack: name, norm: "linf", eps: 0.1 },
        }),
      Error,
      /^Unknown attack /,
    );
    oneSentence(
      () => resolveMethod({ optimizer: { name }, perturb: null } as any),
      Error,
      /^Invalid option method\.optimizer\.name: got "[^"]+", expected one of "sgd", "sam", "looksam"\.$/,
    );
  }
  oneSentence(
    () => getAttack(undefined as unknown as string),
    Error,
    /^Unknown attack undefined: /,
  );
  assert.ok(Object.isFrozen(ATTACKS));
});

Deno.test("registry: evaluations — an unknown attack or protocol is answered with the attacks and the protocols", () => {
  assert.deepEqual(Object.keys(PROTOCOLS), ["autoattack"]);
  const known = `${KNOWN_ATTACKS}, autoattack`;
  oneSentence(
    () => resolveEval({ attack: "autoatack", norm: "linf", eps: 8 / 255 }),
    Error,
    new RegExp(`^Unknown attack "autoatack": use one of ${known}\\.$`),
  );
  for (const name of PROTO_NAMES) {
    oneSentence(
      () => resolveEval({ attack: name, norm: "linf", eps: 8 / 255 }),
      Error,
      new RegExp(`^Unknown attack "${name}": use one of ${known}\\.$`),
    );
    // A protocol's stage options keyed by an Object.prototype name: an unknown stage.
    oneSentence(
      () => resolveEval(autoattack("linf", 8 / 255, undefined, { [name]: {} })),
      Error,
      new RegExp(
        `^Unknown stage "${name}" in the options of autoattack: its stages are apgd-ce, apgd-t, square\\.$`,
      ),
    );
  }
  oneSentence(
    () => resolveEval(null as any),
    Error,
    /^Invalid evaluation null: expected \{ attack, norm, eps \}\.$/,
  );
});

Deno.test("registry: datasets — specs, names of loaded splits, and unknown names", async () => {
  assert.deepEqual(DATASET_NAMES, ["fashion-mnist", "cifar10", "cifar10-jpeg", "cifar100"]);
  for (const name of DATASET_NAMES) {
    const s = datasetSpec(name);
    assert.equal(s.name, name);
    assert.equal(s.normalization.mean.length, s.shape[2]);
    assert.equal(s.normalization.std.length, s.shape[2]);
    assert.ok(s.trainSize > s.testSize);
  }
  assert.deepEqual(
    DATASET_NAMES.map((n) => [DATASET_SPECS[n].numClasses, DATASET_SPECS[n].augment]),
    [[10, "fashion"], [10, "cifar"], [10, "cifar"], [100, "cifar"]],
  );
  assert.equal(specOf({ registryKey: "cifar100" })?.name, "cifar100");
  assert.equal(specOf({}), undefined);
  const sentence =
    'Unknown dataset "mnist": use one of fashion-mnist, cifar10, cifar10-jpeg, cifar100.';
  oneSentence(
    () => datasetSpec("mnist"),
    DatasetError,
    new RegExp(`^${sentence.replace(/\./g, "\\.")}$`),
  );
  await assert.rejects(
    loadDataset("mnist"),
    (e: Error) => e instanceof DatasetError && e.message === sentence,
  );
  for (const name of PROTO_NAMES) {
    assert.equal(isDatasetName(name), false, name);
    assert.equal(specOf({ registryKey: name as DatasetName }), undefined, name);
    oneSentence(
      () => datasetSpec(name),
      DatasetError,
      new RegExp(`^Unknown dataset "${name}": use one of `),
    );
    await assert.rejects(loadDataset(name), DatasetError);
    // The experiment layer answers with its own error class and the same sentence.
    oneSentence(
      () => getPreset(name),
      ExperimentError,
      new RegExp(
        `^Unknown dataset "${name}": use one of fashion-mnist, cifar10, cifar10-jpeg, cifar100\\.$`,
      ),
    );
  }
});

Deno.test("registry: presets — per dataset, unknown names answered with that dataset's presets", () => {
  assert.deepEqual(Object.keys(PRESETS), DATASET_NAMES);
  oneSentence(
    () => getPreset("cifar10", "default"),
    ExperimentError,
    /^Unknown preset "default" for cifar10: use one of cpu, paper\.$/,
  );
  const fm = Object.keys(PRESETS["fashion-mnist"]).join(", ");
  for (const name of PROTO_NAMES) {
    oneSentence(
      () => getPreset("fashion-mnist", name),
      ExperimentError,
      new RegExp(`^Unknown preset "${name}" for fashion-mnist: use one of ${fm}\\.$`),
    );
    // A row id that is an Object.prototype name has the preset's seeds, not an inherited member.
    assert.equal(seedsOf(getPreset("fashion-mnist"), name), getPreset("fashion-mnist").seeds);
  }
  assert.equal(getPreset("cifar10").name, "cpu");
  assert.equal(getPreset("fashion-mnist").name, "default");
});

Deno.test("registry: rows — ids, and unknown ids answered with the rows on offer", () => {
  assert.equal(ALL_ROWS.length, 15);
  assert.equal(new Set(ALL_ROWS.map((r) => r.id)).size, ALL_ROWS.length);
  for (const r of ALL_ROWS) assert.equal(rowById(r.id), r);
  oneSentence(
    () => parseRows("ST,SAM-0.3"),
    ExperimentError,
    /^Unknown row "SAM-0\.3": use "all" or a comma list of ST, SAM-0\.05, .*AT-l2-128\.$/,
  );
  // Among a preset's rows, only those are on offer.
  const smoke = getPreset("fashion-mnist", "smoke");
  const smokeRows = smoke.rows.map((id) => rowById(id)!);
  oneSentence(
    () => parseRows("AT-linf-8", smokeRows),
    ExperimentError,
    /^Unknown row "AT-linf-8": use "all" or a comma list of ST, SAM-0\.1\.$/,
  );
  for (const name of PROTO_NAMES) {
    assert.equal(rowById(name), undefined, name);
    oneSentence(() => parseRows(name), ExperimentError, new RegExp(`^Unknown row "${name}": `));
  }
  oneSentence(
    () => parseRows(" , "),
    ExperimentError,
    /^No rows given: use "all" or a comma list of ST, /,
  );
  assert.deepEqual(parseRows("all", GRID), [...GRID]);
});

Deno.test('registry: column keys are <attack tag>_<norm>_<eps> ("pgd10_linf_8_255")', () => {
  assert.deepEqual(NORMS, ["linf", "l2"]);
  assert.equal(epsLabel(8 / 255), "8_255");
  assert.equal(epsLabel(0.5 / 255), "eps0.00196078");
  assert.equal(threatKey("l2", 128 / 255), "l2_128_255");
  assert.equal(threatLabel("linf", 8 / 255), "L∞ 8/255");
  assert.equal(threatLabel("l2", 0.1), "L2 0.1");
  assert.deepEqual(PAPER_COLUMNS.map((c) => c.key), [
    "clean",
    "pgd10_linf_1_255",
    "pgd10_linf_2_255",
    "pgd10_l2_16_255",
    "pgd10_l2_32_255",
  ]);
  assert.ok(PAPER_COLUMNS.every((c) => c.paper));
  assert.deepEqual(evalColumns(EXTENDED_EVALS).map((c) => [c.key, c.paper]), [
    ["clean", true],
    ["pgd10_linf_1_255", true],
    ["pgd10_linf_2_255", true],
    ["pgd10_linf_4_255", false],
    ["pgd10_linf_8_255", false],
    ["pgd10_l2_16_255", true],
    ["pgd10_l2_32_255", true],
    ["pgd10_l2_64_255", false],
    ["pgd10_l2_128_255", false],
  ]);
  assert.deepEqual(PAPER_EVALS.map((e) => e.options), PAPER_EVALS.map(() => ({ steps: 10 })));
  const key = (spec: Parameters<typeof resolveEval>[0]) => resolveEval(spec).key;
  assert.equal(key(pgd10("linf", 8 / 255)), "pgd10_linf_8_255");
  assert.equal(
    key({ attack: "pgd", norm: "linf", eps: 8 / 255, options: { steps: 20 } }),
    "pgd20_linf_8_255",
  );
  assert.equal(key({ attack: "fgsm", norm: "linf", eps: 8 / 255 }), "fgsm_linf_8_255");
  assert.equal(key({ attack: "apgd-ce", norm: "linf", eps: 8 / 255 }), "apgdce100_linf_8_255");
  assert.equal(key({ attack: "square", norm: "l2", eps: 128 / 255 }), "square5000_l2_128_255");
  assert.equal(key(autoattack("linf", 8 / 255)), "aa_linf_8_255");
  assert.equal(key(autoattack("l2", 0.5)), "aa_l2_eps0.5");
  const labels = evalColumns([pgd10("linf", 8 / 255), autoattack("linf", 8 / 255, 500)]).map((c) =>
    c.label
  );
  assert.deepEqual(labels, [
    "Natural",
    "PGD-10 L∞ 8/255 (ours)",
    "AutoAttack L∞ 8/255 (ours) [500 pts]",
  ]);
});

Deno.test("protocol keys: a non-default stage budget is named in the key and the label", () => {
  const r = resolveEval(autoattack("l2", 128 / 255, undefined, { square: { queries: 1000 } }));
  assert.equal(r.key, "aa-square1000_l2_128_255");
  assert.equal(r.label, "AutoAttack (square1000) L2 128/255");
  assert.equal(
    resolveEval(autoattack("l2", 128 / 255, undefined, { square: { queries: 5000 } })).key,
    "aa_l2_128_255",
  );
});
