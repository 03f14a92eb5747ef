/**
 * FNV-1a, 32-bit: the one cheap non-cryptographic hash of the project (run keys, data
 * fingerprints, seeds named by strings, graph uploads compared by content). Every caller feeds its
 * own units (bytes, UTF-16 code units, uint32 words): what a stored key or seed was computed from
 * must not change, so each keeps its units and only the arithmetic lives here.
 */

/** FNV-1a's 32-bit offset basis, the hash of nothing. */
export const FNV1A_OFFSET = 0x811c9dc5;
const FNV1A_PRIME = 0x01000193;

/** Mix one unit (a byte, a char code or a 32-bit word) into hash `h`; an unsigned 32-bit result. */
export function fnv1aMix(h: number, unit: number): number {
  return Math.imul(h ^ unit, FNV1A_PRIME) >>> 0;
}

/** FNV-1a of a sequence of units (a typed array, an array), from `h` (default: the offset basis). */
export function fnv1a(units: ArrayLike<number>, h = FNV1A_OFFSET): number {
  for (let i = 0; i < units.length; i++) h = fnv1aMix(h, units[i]);
  return h;
}

/** FNV-1a of a string's UTF-16 code units. */
export function fnv1aText(text: string): number {
  let h = FNV1A_OFFSET;
  for (let i = 0; i < text.length; i++) h = fnv1aMix(h, text.charCodeAt(i));
  return h;
}

/** `h` as 8 hex digits. */
export function hex8(h: number): string {
  return (h >>> 0).toString(16).padStart(8, "0");
}
