/** `30d`, `12h`, `90m`, `45s`, `2w` → milliseconds (what `kassa clock advance` takes). Pure. */
const unitMs: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The longest single move: 100 years, far beyond any schedule a sandbox needs to watch. */
export const durationMaxMs = 100 * 365 * 86_400_000;

export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * unitMs[match[2]];
  return ms > 0 && ms <= durationMaxMs ? ms : undefined;
}
