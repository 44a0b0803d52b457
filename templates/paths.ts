/**
 * Where Kubernetes keeps its files on a node, as kubeadm's constants name them (its
 * cmd/kubeadm/app/constants): one module to look a path up in, instead of literals in each file.
 */

export const KUBERNETES_DIR = '/etc/kubernetes';
export const PKI_DIR = `${KUBERNETES_DIR}/pki`;
export const ETCD_PKI_DIR = `${PKI_DIR}/etcd`;
export const MANIFESTS_DIR = `${KUBERNETES_DIR}/manifests`;
/** The cluster CA. */
export const CA_CERT = `${PKI_DIR}/ca.crt`;
export const CA_KEY = `${PKI_DIR}/ca.key`;
/** kubeconfigs */
export const ADMIN_CONF = `${KUBERNETES_DIR}/admin.conf`;
export const KUBELET_CONF = `${KUBERNETES_DIR}/kubelet.conf`;
export const BOOTSTRAP_KUBELET_CONF = `${KUBERNETES_DIR}/bootstrap-kubelet.conf`;
export const CONTROLLER_MANAGER_CONF = `${KUBERNETES_DIR}/controller-manager.conf`;
export const SCHEDULER_CONF = `${KUBERNETES_DIR}/scheduler.conf`;
/** kubestrap's marker of a worker join not yet confirmed (the worker-nodes phase removes it). */
export const JOIN_PENDING = `${KUBERNETES_DIR}/kubestrap-join-pending`;

export const KUBELET_DIR = '/var/lib/kubelet';
export const KUBELET_CONFIG = `${KUBELET_DIR}/config.yaml`;
export const KUBELET_INSTANCE_CONFIG = `${KUBELET_DIR}/instance-config.yaml`;
export const KUBELET_FLAGS = `${KUBELET_DIR}/kubeadm-flags.env`;
export const KUBELET_PKI_DIR = `${KUBELET_DIR}/pki`;
/** The kubelet's rotating client certificate and its serving certificate once approved. */
export const KUBELET_CLIENT_CURRENT = `${KUBELET_PKI_DIR}/kubelet-client-current.pem`;
export const KUBELET_SERVING_CURRENT = `${KUBELET_PKI_DIR}/kubelet-server-current.pem`;
