/**
 * Progress reporting for long work (training, evaluation), with throughput and ETA.
 *
 * Where it goes, picked once per bar ("auto"):
 * - in a Jupyter kernel (Deno.jupyter available): one live display that is replaced in place
 *   (display_data with a display_id, then update_display_data), at most once per 2 s; AND plain
 *   lines on the kernel process's real stderr (/dev/stderr, at most one per 10 s), which is the
 *   terminal of a headless report run. (Inside the kernel, console.error goes to the notebook and
 *   Deno.stderr is swallowed, so the lines are written to /dev/stderr directly.)
 * - in a terminal (stderr is a TTY): a bar redrawn in place with "\r", at most 10 times a second.
 * - otherwise (stderr piped to a file or CI log): plain lines, at most one per 10 s.
 * - "none": silent.
 * Every style writes a final line when the bar finishes.
 */

import { jupyterAvailable } from "./jupyter.ts";

export type ProgressStyle = "auto" | "jupyter" | "terminal" | "lines" | "none";

export interface ProgressOptions {
  /** Shown before the bar, e.g. "SAM rho=0.05". */
  label: string;
  /** Total units of work (e.g. images). */
  total: number;
  /** Unit name for the rate, e.g. "img". */
  unit?: string;
  style?: ProgressStyle;
}

export interface Progress {
  /** Report `done` units finished so far, with an optional note (e.g. "epoch 2/10 loss 1.23"). */
  update(done: number, note?: string): Promise<void>;
  /** Mark the end; writes a final line. */
  finish(note?: string): Promise<void>;
}

const encoder = new TextEncoder();

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** Write to the process's real stderr (file descriptor 2), bypassing the kernel's capture. */
let rawStderr: Deno.FsFile | null | undefined;
export function writeRawStderr(text: string): void {
  if (rawStderr === undefined) {
    try {
      rawStderr = Deno.openSync("/dev/stderr", { write: true });
    } catch {
      rawStderr = null;
    }
  }
  try {
    if (rawStderr) rawStderr.writeSync(encoder.encode(text));
    else Deno.stderr.writeSync(encoder.encode(text));
  } catch {
    // progress must never break the work it reports on
  }
}

function writeStderr(text: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(text));
  } catch {
    // ignore: a closed stderr must not stop training
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

interface Snapshot {
  done: number;
  total: number;
  fraction: number;
  rate: number;
  elapsed: number;
  eta: number;
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}

function statusText(label: string, unit: string, s: Snapshot, note?: string): string {
  const pct = (100 * s.fraction).toFixed(0).padStart(3);
  const rate = s.rate >= 100 ? s.rate.toFixed(0) : s.rate.toFixed(1);
  return `${label} ${pct}% ${s.done}/${s.total} ${unit} | ${rate} ${unit}/s | ` +
    `elapsed ${formatDuration(s.elapsed)} | ETA ${formatDuration(s.eta)}` +
    (note ? ` | ${note}` : "");
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function html(label: string, unit: string, s: Snapshot, note?: string): string {
  const pct = (100 * s.fraction).toFixed(1);
  const rate = s.rate >= 100 ? s.rate.toFixed(0) : s.rate.toFixed(1);
  return `<div style="font-family:monospace">` +
    `<div>${escapeHtml(label)}: ${s.done}/${s.total} ${unit} (${pct}%)</div>` +
    `<div style="width:320px;height:10px;background:#ddd">` +
    `<div style="width:${pct}%;height:10px;background:#4a90d9"></div></div>` +
    `<div>${rate} ${unit}/s, elapsed ${formatDuration(s.elapsed)}, ETA ${formatDuration(s.eta)}${
      note ? ", " + escapeHtml(note) : ""
    }</div></div>`;
}

let displayCounter = 0;

export function createProgress(options: ProgressOptions): Progress {
  const label = options.label;
  const unit = options.unit ?? "img";
  const total = Math.max(0, options.total);
  let style = options.style ?? "auto";
  if (style === "auto") {
    style = jupyterAvailable() ? "jupyter" : stderrIsTerminal() ? "terminal" : "lines";
  }
  if (style === "jupyter" && !jupyterAvailable()) style = "lines";
  const start = performance.now();
  let lastDraw = -Infinity;
  let lastLine = -Infinity;
  let shown = false;
  let finished = false;
  const displayId = `sam-at-progress-${Date.now()}-${displayCounter++}`;

  const snapshot = (done: number): Snapshot => {
    const elapsed = (performance.now() - start) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const fraction = total > 0 ? done / total : 1;
    const eta = rate > 0 ? (total - done) / rate : Infinity;
    return { done, total, fraction, rate, elapsed, eta };
  };

  const jupyterShow = async (s: Snapshot, note?: string) => {
    const bundle = {
      "text/plain": statusText(label, unit, s, note),
      "text/html": html(label, unit, s, note),
    };
    try {
      await (Deno as any).jupyter.display(bundle, {
        raw: true,
        display_id: displayId,
        update: shown,
      });
      shown = true;
    } catch {
      // a display failure must not stop the work
    }
  };

  return {
    async update(done, note) {
      if (finished || style === "none") return;
      const now = performance.now();
      const s = snapshot(done);
      if (style === "terminal") {
        if (now - lastDraw < 100) return;
        lastDraw = now;
        const text = `${label} ${bar(s.fraction, 24)} ${statusText("", unit, s, note).trimStart()}`;
        const cols = (() => {
          try {
            return Deno.consoleSize().columns;
          } catch {
            return 120;
          }
        })();
        writeStderr(`\r\x1b[2K${text.slice(0, Math.max(20, cols - 1))}`);
        return;
      }
      if (style === "jupyter" && now - lastDraw >= 2000) {
        lastDraw = now;
        await jupyterShow(s, note);
      }
      if (now - lastLine >= 10000) {
        lastLine = now;
        const line = statusText(label, unit, s, note) + "\n";
        if (style === "jupyter") writeRawStderr(line);
        else writeStderr(line);
      }
    },
    async finish(note) {
      if (finished || style === "none") return;
      finished = true;
      const s = snapshot(total);
      s.eta = 0;
      const line = statusText(label, unit, s, note ?? "done");
      if (style === "terminal") {
        writeStderr(
          `\r\x1b[2K${label} ${bar(1, 24)} ${
            statusText("", unit, s, note ?? "done").trimStart()
          }\n`,
        );
      } else if (style === "jupyter") {
        await jupyterShow(s, note ?? "done");
        writeRawStderr(line + "\n");
      } else {
        writeStderr(line + "\n");
      }
    },
  };
}
