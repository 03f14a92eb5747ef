/**
 * FLOPs of the benchmark's steps, counted from the architectures of lib/models/model.ts (checked against
 * PyTorch forward hooks on bench/peer_torch.py's models in tests/bench_test.ts).
 */
import type { Arch } from "../lib/models/model.ts";

export type Method = "ST" | "SAM" | "AT" | "EVAL";

export interface ModelCase {
  arch: Arch;
  width: number;
  size: number;
  channels: number;
  label: string;
}

/** Forward FLOPs of one image (2 x multiply-accumulates of convs and the linear layer). */
export function forwardFlops(m: ModelCase, classes = 10): number {
  let macs = 0;
  const conv = (
    hw: number,
    k: number,
    cin: number,
    cout: number,
  ) => (macs += hw * hw * k * k * cin * cout);
  let h = m.size;
  if (m.arch === "prn18") {
    const w = m.width;
    conv(h, 3, m.channels, w);
    let inP = w;
    for (const [planes, stride] of [[w, 1], [2 * w, 2], [4 * w, 2], [8 * w, 2]]) {
      for (let j = 0; j < 2; j++) {
        const s = j === 0 ? stride : 1;
        const ho = Math.floor((h - 1) / s) + 1;
        conv(ho, 3, inP, planes);
        conv(ho, 3, planes, planes);
        if (s !== 1 || inP !== planes) conv(ho, 1, inP, planes);
        h = ho;
        inP = planes;
      }
    }
    macs += inP * classes;
  } else {
    const ws = [m.width, 2 * m.width, 4 * m.width];
    let cin = m.channels;
    ws.forEach((c, i) => {
      conv(h, 3, cin, c);
      cin = c;
      if (i < 2) h = Math.floor(h / 2);
    });
    macs += cin * classes;
  }
  return 2 * macs;
}

/** FLOPs of one batch step: ST 3F, SAM 6F, AT-10 10 x (F + F) + 3F, EVAL 10 x 2F + 2F. */
export function stepFlops(m: ModelCase, method: Method, batch: number): number {
  const f = forwardFlops(m) * batch;
  return { ST: 3 * f, SAM: 6 * f, AT: 23 * f, EVAL: 22 * f }[method];
}
