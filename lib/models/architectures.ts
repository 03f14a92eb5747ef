/**
 * The architecture registry: one line per architecture (each is one file implementing
 * lib/models/architecture.ts). An unknown name is one sentence listing these.
 */
import type { Architecture } from "./architecture.ts";
import { PREACT_RESNET18 } from "./preact_resnet18.ts";
import { SMALL_CNN } from "./small_cnn.ts";
import { WIDE_RESNET_16 } from "./wide_resnet.ts";

export const ARCHITECTURES = {
  prn18: PREACT_RESNET18,
  smallcnn: SMALL_CNN,
  wrn16: WIDE_RESNET_16,
} as const satisfies Record<string, Architecture>;

export type Arch = keyof typeof ARCHITECTURES;
export const ARCHS = Object.keys(ARCHITECTURES) as readonly Arch[];

/** The registered architecture of this name (callers validate the name first with checkChoice). */
export function architectureOf(name: Arch): Architecture {
  return ARCHITECTURES[name];
}
