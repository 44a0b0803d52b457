/** Kubernetes release versions as kubestrap handles them (vMAJOR.MINOR.PATCH). */
export interface KubeVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Canonical text with the leading v, e.g. v1.23.17. */
  readonly text: string;
}

/** The oldest and newest minor releases kubestrap renders for. */
export const SUPPORTED_MINORS = { min: 20, max: 33 } as const;

export function parseVersion(text: string): KubeVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { major, minor, patch, text: `v${major}.${minor}.${patch}` };
}

export function supportProblem(v: KubeVersion): string | undefined {
  if (v.major !== 1 || v.minor < SUPPORTED_MINORS.min || v.minor > SUPPORTED_MINORS.max) {
    return `${v.text} is not supported; kubestrap supports v1.${SUPPORTED_MINORS.min}.0 to v1.${SUPPORTED_MINORS.max}.x`;
  }
  return undefined;
}

/** The version as image tags and kubeadm's configuration spell it: v1.23.17. */
export function versionTag(v: KubeVersion): string {
  return `v${v.major}.${v.minor}.${v.patch}`;
}
