/** The Kubernetes object types kubestrap emits, as plain typed values (serialized with yaml). */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: ReadonlyArray<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
}

/** Any API object kubestrap creates (RBAC, Services, workloads): checked by the API server. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly [field: string]: unknown;
}

export interface Secret extends KubeObject {
  readonly apiVersion: 'v1';
  readonly kind: 'Secret';
  readonly metadata: ObjectMeta;
  readonly type: string;
  readonly data: Readonly<Record<string, string>>;
}

export interface ConfigMap extends KubeObject {
  readonly apiVersion: 'v1';
  readonly kind: 'ConfigMap';
  readonly metadata: ObjectMeta;
  readonly data: Readonly<Record<string, string>>;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef: { readonly fieldPath: string } };
}

export interface Probe {
  readonly httpGet: { readonly host?: string; readonly path: string; readonly port: number | string; readonly scheme: 'HTTP' | 'HTTPS' };
  readonly initialDelaySeconds?: number;
  readonly timeoutSeconds?: number;
  readonly periodSeconds?: number;
  readonly successThreshold?: number;
  readonly failureThreshold?: number;
}

export interface VolumeMount {
  readonly mountPath: string;
  readonly name: string;
  readonly readOnly?: boolean;
}

export interface Volume {
  readonly name: string;
  readonly hostPath?: { readonly path: string; readonly type?: string };
  readonly configMap?: { readonly name: string; readonly items?: ReadonlyArray<{ key: string; path: string }> };
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly imagePullPolicy: 'IfNotPresent' | 'Always' | 'Never';
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: ReadonlyArray<{ name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' }>;
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly startupProbe?: Probe;
  readonly resources?: { readonly requests?: Readonly<Record<string, string>>; readonly limits?: Readonly<Record<string, string>> };
  readonly securityContext?: Readonly<Record<string, unknown>>;
  readonly volumeMounts?: readonly VolumeMount[];
}

export interface PodSpec {
  readonly containers: readonly Container[];
  readonly hostNetwork?: boolean;
  readonly priority?: number;
  readonly priorityClassName?: string;
  readonly securityContext?: { readonly seccompProfile?: { readonly type: string } };
  readonly serviceAccountName?: string;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly tolerations?: ReadonlyArray<Readonly<Record<string, string>>>;
  readonly dnsPolicy?: string;
  readonly affinity?: Readonly<Record<string, unknown>>;
  readonly volumes?: readonly Volume[];
}

export interface Pod {
  readonly apiVersion: 'v1';
  readonly kind: 'Pod';
  readonly metadata: ObjectMeta;
  readonly spec: PodSpec;
}
