/** Durations as kubeadm writes them (8760h, 90m, 1h30m), in hours; NaN when malformed. */
export function durationHours(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?$/.exec(text);
  return m ? Number(m[1] ?? 0) + Number(m[2] ?? 0) / 60 : NaN;
}
