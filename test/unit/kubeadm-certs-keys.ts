/** The keys of the kube-system/kubeadm-certs Secret as kubeadm's copycerts names them (kubeadm-spec.md, upload-certs). */
export const KUBEADM_CERTS_KEYS = [
  'ca.crt',
  'ca.key',
  'etcd-ca.crt',
  'etcd-ca.key',
  'front-proxy-ca.crt',
  'front-proxy-ca.key',
  'sa.key',
  'sa.pub',
];
