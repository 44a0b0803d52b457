/**
 * kubeadm's upload-certs (kubeadm-spec §7): the control plane's shared CA material in
 * kube-system/kubeadm-certs, each file sealed with the certificate key, owned by a 2-hour
 * bootstrap token so that garbage collection removes it when the token expires; bootstrap
 * tokens of the default node group may read it, and a joining control plane decrypts it.
 */
import { generateToken } from '../pki/bootstrap-token.js';
import { openFiles, sealFiles, UPLOADED_FILES } from '../pki/certificate-key.js';
import type { FileSet } from '../pki/cluster-pki.js';
import { ApiError, type ApiClient } from './api-client.js';
import { tokenSecret } from './bootstrap-objects.js';
import { role, roleBinding } from './cluster-objects.js';
import type { KubeObject, Secret } from '../../templates/objects.js';

export const CERTS_SECRET = 'kubeadm-certs';
const OWNER_TOKEN_DESCRIPTION = 'Proxy for managing TTL for the kubeadm-certs secret';
const OWNER_TOKEN_TTL_SECONDS = 2 * 3600;
const READERS = 'system:bootstrappers:kubeadm:default-node-token';

/** The files the control plane shares, relative to /etc/kubernetes (pki/ca.crt …). */
export const SHARED_FILES: readonly string[] = UPLOADED_FILES.map((f) => f.path);

function rbac(): KubeObject[] {
  const name = 'kubeadm:kubeadm-certs';
  return [
    role(name, 'kube-system', [{ apiGroups: [''], resources: ['secrets'], resourceNames: [CERTS_SECRET], verbs: ['get'] }]),
    roleBinding(name, 'kube-system', name, [{ kind: 'Group', name: READERS }]),
  ];
}

/** Seals the files with `certificateKey` into kubeadm-certs, owned by a fresh 2-hour token. */
export async function uploadCerts(api: ApiClient, files: FileSet, certificateKey: string, now = new Date()): Promise<void> {
  const owner = tokenSecret(generateToken(), {
    description: OWNER_TOKEN_DESCRIPTION,
    ttlSeconds: OWNER_TOKEN_TTL_SECONDS,
    usages: [],
    groups: [],
    now,
  });
  await api.apply(owner);
  const live = (await api.get({ apiVersion: 'v1', kind: 'Secret', namespace: 'kube-system', name: owner.metadata.name })) as {
    metadata: { uid: string };
  };
  const data = sealFiles(new Map([...files].map(([path, content]) => [path, Buffer.from(content)])), certificateKey);
  const secret: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: CERTS_SECRET,
      namespace: 'kube-system',
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Secret', name: owner.metadata.name, uid: live.metadata.uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    type: 'Opaque',
    data,
  };
  await api.apply(secret);
  for (const object of rbac()) await api.apply(object);
}

/** Reads and decrypts kubeadm-certs; explains the usual reasons it cannot. */
export async function downloadCerts(api: ApiClient, certificateKey: string): Promise<FileSet> {
  let secret: Record<string, unknown> | undefined;
  try {
    secret = await api.get({ apiVersion: 'v1', kind: 'Secret', namespace: 'kube-system', name: CERTS_SECRET });
  } catch (err) {
    if (err instanceof ApiError && err.status === 403)
      throw new Error(
        'this token may not read kube-system/kubeadm-certs: upload the certificates again (kubestrap certs upload), which also grants bootstrap tokens that read',
        { cause: err },
      );
    throw err;
  }
  if (!secret)
    throw new Error(
      'kube-system/kubeadm-certs does not exist: it expires 2 hours after the upload. Run `kubestrap certs upload` on the workstation (or a control plane) and use the key it prints',
    );
  const files = openFiles((secret.data ?? {}) as Record<string, string>, certificateKey);
  return new Map([...files].map(([path, content]) => [path, content.toString('utf8')]));
}
