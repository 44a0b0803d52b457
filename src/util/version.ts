/** Kubernetes release versions as kubestrap handles them (vMAJOR.MINOR.PATCH). */
export interface KubeVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Canonical text with the leading v, e.g. v1.23.17. */
  readonly text: string;
}

/**
 * The oldest and newest minor releases kubestrap renders for. 1.38 stays out until its GA notes
 * say what its kubeadm writes (it is at alpha as of this table; see templates/versions.ts).
 */
export const SUPPORTED_MINORS = { min: 20, max: 37 } as const;
/** The release chosen for the user where one must be picked (wizard, examples): the newest supported. */
export const DEFAULT_KUBERNETES_VERSION = 'v1.37.1';

export function parseVersion(text: string): KubeVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { major, minor, patch, text: `v${major}.${minor}.${patch}` };
}

export function supportProblem(v: KubeVersion): string | undefined {
  if (v.major !== 1 || v.minor < SUPPORTED_MINORS.min || v.minor > SUPPORTED_MINORS.max) {
    const range = `kubestrap supports v1.${SUPPORTED_MINORS.min}.0 to v1.${SUPPORTED_MINORS.max}.x`;
    if (v.major === 1 && v.minor === SUPPORTED_MINORS.max + 1)
      return `${v.text} is not supported yet: what kubeadm 1.${v.minor} writes is not settled before its release; ${range}`;
    return `${v.text} is not supported; ${range}`;
  }
  return undefined;
}

/** The version as image tags and kubeadm's configuration spell it: v1.23.17. */
export function versionTag(v: KubeVersion): string {
  return `v${v.major}.${v.minor}.${v.patch}`;
}
