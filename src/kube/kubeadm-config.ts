/**
 * The ClusterConfiguration document of kube-system/kubeadm-config, in the kubeadm API version the
 * release reads (v1beta2 until 1.21, v1beta3 1.22–1.30, v1beta4 from 1.31; v1beta3 is gone in
 * 1.37), and its reader. kubeadm's own `upgrade`, `join` and `config` commands decode this
 * document, so its shape must be theirs: v1beta4 has extraArgs as lists of {name, value} and
 * extraEnvs, v1beta2/3 have extraArgs as maps and no extraEnvs.
 */
import { parse, parseAllDocuments, stringify } from 'yaml';
import { apiEndpoint } from '../inventory/resolve.js';
import type { Inventory } from '../inventory/schema.js';
import { durationHours } from '../util/duration.js';
import { parseVersion, versionTag } from '../util/version.js';
import type { ComponentSettings } from '../../templates/control-plane.js';
import { etcdImageTag, kubeadmApiVersion, kubeadmDefaultImageRepository } from '../../templates/versions.js';
import { PKI_DIR } from '../../templates/paths.js';

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
    ...(settings.extraVolumes.length
      ? {
          extraVolumes: settings.extraVolumes.map((v) => ({
            hostPath: v.hostPath,
            mountPath: v.mountPath,
            name: v.name,
            ...(v.readOnly ? { readOnly: true } : {}),
            ...(v.pathType ? { pathType: v.pathType } : {}),
          })),
        }
      : {}),
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
    ...(v1beta4
      ? {
          caCertificateValidityPeriod: goDuration(c.certificates.caValidity),
          certificateValidityPeriod: goDuration(c.certificates.validity),
          encryptionAlgorithm: c.certificates.keyAlgorithm,
        }
      : {}),
    certificatesDir: PKI_DIR,
    clusterName: c.name,
    ...(apiEndpoint(inv) ? { controlPlaneEndpoint: apiEndpoint(inv) } : {}),
    controllerManager: component(c.controllerManager, v1beta4),
    dns: {},
    etcd: c.etcd.external
      ? {
          external: {
            caFile: c.etcd.external.caFile,
            certFile: c.etcd.external.certFile,
            endpoints: c.etcd.external.endpoints,
            keyFile: c.etcd.external.keyFile,
          },
        }
      : { local: { dataDir: '/var/lib/etcd', imageTag: etcdImageTag(version, c.etcd.imageTag), ...component(c.etcd, v1beta4) } },
    imageRepository: c.imageRepository,
    kubernetesVersion: versionTag(version),
    networking: { dnsDomain: c.networking.dnsDomain, podSubnet: c.networking.podSubnet, serviceSubnet: c.networking.serviceSubnet },
    scheduler: component(c.scheduler, v1beta4),
  };
}

export const clusterConfigurationYaml = (doc: Record<string, unknown>) => stringify(doc, { sortMapEntries: true, indentSeq: false });

/*
 * The reader: kubeadm-config as kubestrap or kubeadm of any release since 1.20 wrote it.
 * - kubeadm.k8s.io/v1beta2 (1.15–1.21 write it): extraArgs are maps; before 1.22 the ConfigMap
 *   also held a ClusterStatus document with every control plane's API endpoint (later releases
 *   keep it in the kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint annotation of
 *   each kube-apiserver pod);
 * - v1beta3 (1.22–1.30): extraArgs still maps;
 * - v1beta4 (from 1.31): extraArgs are lists of {name, value} (a flag may repeat), extraEnvs.
 */
export const KUBEADM_API_VERSIONS = ['kubeadm.k8s.io/v1beta2', 'kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'] as const;

export type EtcdConfig =
  | ({
      readonly kind: 'local';
      readonly imageRepository?: string;
      readonly imageTag?: string;
      readonly dataDir: string;
    } & ComponentSettings)
  | {
      readonly kind: 'external';
      readonly endpoints: readonly string[];
      readonly caFile?: string;
      readonly certFile?: string;
      readonly keyFile?: string;
    };

export interface KubeadmClusterConfig {
  readonly apiVersion: (typeof KUBEADM_API_VERSIONS)[number];
  readonly kubernetesVersion: string;
  readonly clusterName: string;
  readonly controlPlaneEndpoint?: string;
  readonly imageRepository: string;
  readonly networking: { readonly podSubnet?: string; readonly serviceSubnet: string; readonly dnsDomain: string };
  readonly certSANs: readonly string[];
  readonly apiServer: ComponentSettings;
  readonly controllerManager: ComponentSettings;
  readonly scheduler: ComponentSettings;
  readonly etcd: EtcdConfig;
  /** v1beta4's PKI settings (earlier API versions had them only as kubeadm's defaults: 8760h, 87600h, RSA-2048). */
  readonly certificateValidityPeriod?: string;
  readonly caCertificateValidityPeriod?: string;
  readonly encryptionAlgorithm?: string;
  /** node name → advertise address, from the ClusterStatus kubeadm kept until 1.22 (absent later). */
  readonly apiEndpoints?: Readonly<Record<string, string>>;
}

export class KubeadmConfigError extends Error {}

type Doc = Record<string, unknown>;

const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A flag's or an environment variable's value: YAML may have typed it a number or a boolean; anything else is no value a flag can carry. */
function scalarText(value: unknown, where: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new KubeadmConfigError(`${where}: expected a string, got ${Array.isArray(value) ? 'a list' : typeof value}`);
}

/** extraArgs as a map (v1beta2/3) or a list of {name, value} (v1beta4); a repeated v1beta4 flag keeps its last value, as the component's flag parser would. */
function extraArgs(value: unknown, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (Array.isArray(value)) {
    return Object.fromEntries(
      value.map((arg, i) => {
        if (!isObject(arg) || typeof arg.name !== 'string')
          throw new KubeadmConfigError(`${where}.extraArgs[${i}]: expected {name, value}`);
        return [arg.name, scalarText(arg.value, `${where}.extraArgs[${i}].value`)];
      }),
    );
  }
  if (!isObject(value)) throw new KubeadmConfigError(`${where}.extraArgs: expected a map or a list`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scalarText(v, `${where}.extraArgs.${k}`)]));
}

function readComponent(value: unknown, where: string): ComponentSettings {
  const c = isObject(value) ? value : {};
  const volumes = Array.isArray(c.extraVolumes) ? c.extraVolumes : [];
  const envs = Array.isArray(c.extraEnvs) ? c.extraEnvs : [];
  return {
    extraArgs: extraArgs(c.extraArgs, where),
    extraVolumes: volumes.map((v, i) => {
      if (!isObject(v) || typeof v.name !== 'string' || typeof v.hostPath !== 'string' || typeof v.mountPath !== 'string')
        throw new KubeadmConfigError(`${where}.extraVolumes[${i}]: expected name, hostPath and mountPath`);
      return {
        name: v.name,
        hostPath: v.hostPath,
        mountPath: v.mountPath,
        readOnly: v.readOnly === true,
        ...(text(v.pathType) ? { pathType: v.pathType as string } : {}),
      };
    }),
    extraEnvs: envs.filter(isObject).map((e, i) => ({
      name: scalarText(e.name, `${where}.extraEnvs[${i}].name`),
      value: scalarText(e.value, `${where}.extraEnvs[${i}].value`),
    })),
  };
}

function readEtcd(value: unknown): EtcdConfig {
  const e = isObject(value) ? value : {};
  if (isObject(e.external)) {
    const x = e.external;
    const endpoints = Array.isArray(x.endpoints) ? x.endpoints.map(String) : [];
    return {
      kind: 'external',
      endpoints,
      ...(text(x.caFile) ? { caFile: x.caFile as string } : {}),
      ...(text(x.certFile) ? { certFile: x.certFile as string } : {}),
      ...(text(x.keyFile) ? { keyFile: x.keyFile as string } : {}),
    };
  }
  const local = isObject(e.local) ? e.local : {};
  return {
    kind: 'local',
    ...readComponent(local, 'etcd.local'),
    ...(text(local.imageRepository) ? { imageRepository: local.imageRepository as string } : {}),
    ...(text(local.imageTag) ? { imageTag: local.imageTag as string } : {}),
    dataDir: text(local.dataDir) ?? '/var/lib/etcd',
  };
}

/** The ClusterStatus document (v1beta2 until 1.22): apiEndpoints by node name. */
function apiEndpoints(status: string | undefined): Record<string, string> | undefined {
  if (!status) return undefined;
  const doc = parse(status) as unknown;
  if (!isObject(doc) || !isObject(doc.apiEndpoints)) return undefined;
  return Object.fromEntries(
    Object.entries(doc.apiEndpoints).flatMap(([node, ep]) =>
      isObject(ep) && typeof ep.advertiseAddress === 'string' ? [[node, ep.advertiseAddress]] : [],
    ),
  );
}

/** Reads kubeadm-config's data (ClusterConfiguration, and ClusterStatus where kubeadm still wrote it). */
export function readKubeadmConfig(data: Readonly<Record<string, string>>): KubeadmClusterConfig {
  const source = data.ClusterConfiguration;
  if (!source) throw new KubeadmConfigError('kubeadm-config has no ClusterConfiguration: this cluster was not made by kubeadm');
  const docs = parseAllDocuments(source);
  const doc = docs[0]?.toJS() as unknown;
  if (!isObject(doc) || doc.kind !== 'ClusterConfiguration')
    throw new KubeadmConfigError('kubeadm-config ClusterConfiguration: not a ClusterConfiguration document');
  const apiVersion = KUBEADM_API_VERSIONS.find((v) => v === doc.apiVersion);
  if (!apiVersion)
    throw new KubeadmConfigError(
      `kubeadm-config ClusterConfiguration: apiVersion ${String(doc.apiVersion)} is not one kubestrap reads (${KUBEADM_API_VERSIONS.join(', ')})`,
    );
  const kubernetesVersion = text(doc.kubernetesVersion);
  if (!kubernetesVersion) throw new KubeadmConfigError('kubeadm-config ClusterConfiguration: no kubernetesVersion');
  const networking = isObject(doc.networking) ? doc.networking : {};
  const apiServer = isObject(doc.apiServer) ? doc.apiServer : {};
  const endpoints = apiEndpoints(data.ClusterStatus);
  return {
    apiVersion,
    kubernetesVersion,
    clusterName: text(doc.clusterName) ?? 'kubernetes',
    ...(text(doc.controlPlaneEndpoint) ? { controlPlaneEndpoint: doc.controlPlaneEndpoint as string } : {}),
    imageRepository: text(doc.imageRepository) ?? kubeadmDefaultImageRepository(parseVersion(kubernetesVersion)),
    networking: {
      ...(text(networking.podSubnet) ? { podSubnet: networking.podSubnet as string } : {}),
      serviceSubnet: text(networking.serviceSubnet) ?? '10.96.0.0/12',
      dnsDomain: text(networking.dnsDomain) ?? 'cluster.local',
    },
    certSANs: Array.isArray(apiServer.certSANs) ? apiServer.certSANs.map(String) : [],
    apiServer: readComponent(apiServer, 'apiServer'),
    controllerManager: readComponent(doc.controllerManager, 'controllerManager'),
    scheduler: readComponent(doc.scheduler, 'scheduler'),
    etcd: readEtcd(doc.etcd),
    ...(text(doc.certificateValidityPeriod) ? { certificateValidityPeriod: doc.certificateValidityPeriod as string } : {}),
    ...(text(doc.caCertificateValidityPeriod) ? { caCertificateValidityPeriod: doc.caCertificateValidityPeriod as string } : {}),
    ...(text(doc.encryptionAlgorithm) ? { encryptionAlgorithm: doc.encryptionAlgorithm as string } : {}),
    ...(endpoints ? { apiEndpoints: endpoints } : {}),
  };
}
