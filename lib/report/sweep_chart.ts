/**
 * The CIFAR-10 (JPEG q75 copy) preset's sweep as a chart: ST clean test accuracy against epochs,
 * one line per (width, training-set size, epochs) config, its seconds per epoch in the legend.
 */
import type { SweepConfig } from "../analysis/cifar_sweep.ts";
import { chart, hline, LEGEND_TOP_LEFT } from "./chart_parts.ts";
import type { Chart } from "./notebook.ts";

const DASH_BY_WIDTH = ["solid", "dash", "dot", "dashdot"];

export function sweepChart(configs: readonly SweepConfig[], target = 0.85): Chart {
  const widths = [...new Set(configs.map((c) => c.width))].sort((a, b) => a - b);
  const data = configs.map((c) => ({
    type: "scatter",
    mode: "lines+markers",
    name: `width ${c.width}, ${c.trainSize} images, ${c.epochs} epochs (${
      c.epochSeconds.toFixed(0)
    } s/epoch)`,
    x: c.curve.map((r) => r.epoch),
    y: c.curve.map((r) => 100 * r.cleanAcc),
    line: { dash: DASH_BY_WIDTH[widths.indexOf(c.width) % DASH_BY_WIDTH.length] },
  }));
  return chart(
    data,
    "Sweep (ours): ST clean accuracy on CIFAR-10 (JPEG q75 copy) against epochs",
    "epoch (of the config's piecewise schedule)",
    "clean test accuracy (%)",
    {
      legend: LEGEND_TOP_LEFT,
      shapes: [hline(100 * target, "#888", "dot", 1)],
      yaxis: { range: [30, 95] },
    },
  );
}
