/** Durations as kubeadm writes them (8760h, 90m, 1h30m), in hours; NaN when malformed. */
export function durationHours(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?$/.exec(text);
  return m ? Number(m[1] ?? 0) + Number(m[2] ?? 0) / 60 : NaN;
}

/** A Go-style duration for flags (24h, 1h30m, 90s, 0) in seconds; NaN when malformed. */
export function durationSeconds(text: string): number {
  if (text === '0') return 0;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === '') return NaN;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}
