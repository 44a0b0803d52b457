/**
 * The ClusterConfiguration document of kube-system/kubeadm-config, in the kubeadm API version the
 * release reads (v1beta2 until 1.21, v1beta3 1.22–1.30, v1beta4 from 1.31; v1beta3 is gone in
 * 1.37), and its reader. kubeadm's own `upgrade`, `join` and `config` commands decode this
 * document, so its shape must be theirs: v1beta4 has extraArgs as lists of {name, value} and
 * extraEnvs, v1beta2/3 have extraArgs as maps and no extraEnvs.
 */
import { parse, stringify } from 'yaml';
import { apiEndpoint } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { durationHours } from '../util/duration.js';
import { parseVersion, versionTag } from '../util/version.js';
import type { ComponentSettings } from '../../templates/control-plane.js';
import { etcdImageTag, kubeadmApiVersion } from '../../templates/versions.js';

type ExtraArgs = Record<string, string> | Array<{ name: string; value: string }>;

/** Go's time.Duration text for whole hours and minutes (8760h → 8760h0m0s), as kubeadm stores it. */
function goDuration(text: string): string {
  const hours = durationHours(text);
  return `${Math.floor(hours)}h${Math.round((hours % 1) * 60)}m0s`;
}

function component(settings: ComponentSettings, v1beta4: boolean): Record<string, unknown> {
  const args = Object.entries(settings.extraArgs);
  return {
    ...(args.length ? { extraArgs: v1beta4 ? args.map(([name, value]) => ({ name, value })) : Object.fromEntries(args) } : {}),
    ...(v1beta4 && settings.extraEnvs.length ? { extraEnvs: settings.extraEnvs.map((e) => ({ name: e.name, value: e.value })) } : {}),
    ...(settings.extraVolumes.length ? { extraVolumes: settings.extraVolumes.map((v) => ({ hostPath: v.hostPath, mountPath: v.mountPath, name: v.name, ...(v.readOnly ? { readOnly: true } : {}), ...(v.pathType ? { pathType: v.pathType } : {}) })) } : {}),
  };
}

/** The ClusterConfiguration kubestrap stores for the inventory's cluster. */
export function clusterConfiguration(inv: Inventory): Record<string, unknown> {
  const c = inv.cluster;
  const version = parseVersion(c.kubernetesVersion)!;
  const apiVersion = kubeadmApiVersion(version.minor);
  const v1beta4 = apiVersion.endsWith('v1beta4');
  return {
    apiVersion,
    kind: 'ClusterConfiguration',
    apiServer: { ...(c.certificates.certSANs.length ? { certSANs: c.certificates.certSANs } : {}), ...component(c.apiServer, v1beta4) },
    // v1beta4 carries the PKI settings that v1beta3 only had as flags
    ...(v1beta4 ? { caCertificateValidityPeriod: goDuration(c.certificates.caValidity), certificateValidityPeriod: goDuration(c.certificates.validity), encryptionAlgorithm: c.certificates.keyAlgorithm } : {}),
    certificatesDir: '/etc/kubernetes/pki',
    clusterName: c.name,
    ...(apiEndpoint(inv) ? { controlPlaneEndpoint: apiEndpoint(inv) } : {}),
    controllerManager: component(c.controllerManager, v1beta4),
    dns: {},
    etcd: { local: { dataDir: '/var/lib/etcd', imageTag: etcdImageTag(version, c.etcd.imageTag), ...component(c.etcd, v1beta4) } },
    imageRepository: c.imageRepository,
    kubernetesVersion: versionTag(version),
    networking: { dnsDomain: c.networking.dnsDomain, podSubnet: c.networking.podSubnet, serviceSubnet: c.networking.serviceSubnet },
    scheduler: component(c.scheduler, v1beta4),
  };
}

export const clusterConfigurationYaml = (doc: Record<string, unknown>) => stringify(doc, { sortMapEntries: true, indentSeq: false });

/** What kubestrap reads back from a ClusterConfiguration (written by kubestrap or by kubeadm of any release since 1.20). */
export interface ReadClusterConfiguration {
  readonly apiVersion?: string;
  readonly clusterName?: string;
  readonly kubernetesVersion?: string;
  readonly imageRepository?: string;
  readonly controlPlaneEndpoint?: string;
  readonly networking: { readonly podSubnet?: string; readonly serviceSubnet?: string; readonly dnsDomain?: string };
  readonly certSANs: readonly string[];
  readonly extraArgs: { readonly apiServer: Record<string, string>; readonly controllerManager: Record<string, string>; readonly scheduler: Record<string, string>; readonly etcd: Record<string, string> };
  readonly etcdImageTag?: string;
}

/** extraArgs as a map, whichever form the document uses (v1beta4: a list of name/value pairs; the last of a repeated name wins, as on a command line). */
function flagMap(args: ExtraArgs | undefined): Record<string, string> {
  if (!args) return {};
  return Array.isArray(args) ? Object.fromEntries(args.map((a) => [a.name, a.value])) : args;
}

export function readClusterConfiguration(text: string): ReadClusterConfiguration {
  const doc = (parse(text) ?? {}) as {
    apiVersion?: string;
    clusterName?: string;
    kubernetesVersion?: string;
    imageRepository?: string;
    controlPlaneEndpoint?: string;
    networking?: { podSubnet?: string; serviceSubnet?: string; dnsDomain?: string };
    apiServer?: { certSANs?: string[]; extraArgs?: ExtraArgs };
    controllerManager?: { extraArgs?: ExtraArgs };
    scheduler?: { extraArgs?: ExtraArgs };
    etcd?: { local?: { imageTag?: string; extraArgs?: ExtraArgs } };
  };
  return {
    ...(doc.apiVersion ? { apiVersion: doc.apiVersion } : {}),
    ...(doc.clusterName ? { clusterName: doc.clusterName } : {}),
    ...(doc.kubernetesVersion ? { kubernetesVersion: doc.kubernetesVersion } : {}),
    ...(doc.imageRepository ? { imageRepository: doc.imageRepository } : {}),
    ...(doc.controlPlaneEndpoint ? { controlPlaneEndpoint: doc.controlPlaneEndpoint } : {}),
    networking: doc.networking ?? {},
    certSANs: doc.apiServer?.certSANs ?? [],
    extraArgs: {
      apiServer: flagMap(doc.apiServer?.extraArgs),
      controllerManager: flagMap(doc.controllerManager?.extraArgs),
      scheduler: flagMap(doc.scheduler?.extraArgs),
      etcd: flagMap(doc.etcd?.local?.extraArgs),
    },
    ...(doc.etcd?.local?.imageTag ? { etcdImageTag: doc.etcd.local.imageTag } : {}),
  };
}
