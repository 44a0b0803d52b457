/** The inventory as a commented YAML file: each section says what it is for. */
import { Document, isMap, isPair, isScalar } from 'yaml';

const COMMENTS: Readonly<Record<string, string>> = {
  apiVersion:
    ' Written by `kubestrap init`. Check it with `kubestrap validate -i <file>`, preview with\n `kubestrap plan -i <file>`, apply with `kubestrap apply -i <file>`.\n Field reference: docs/inventory.md, or inventories/schema.json for editors.',
  hosts:
    ' The machines. hostKey pins the SSH host key you confirmed; roles: control-plane (also runs\n etcd) and/or worker. Secrets are never written here: passwords come from environment variables.',
  cluster: " How to build the cluster on them (like kubeadm's ClusterConfiguration).",
  networking:
    " podSubnet: pod IPs (each node gets a /24); serviceSubnet: service IPs (API server at the\n 1st address, DNS at the 10th). Neither may overlap the other or the hosts' addresses.",
  imageRepository: ' Where control-plane, pause, CoreDNS and kube-proxy images come from (a mirror behind a firewall).',
  packages: ' Where kubelet, kubectl and cri-tools packages come from.',
  containerRuntime: " containerd; its cgroup driver must match the kubelet's (systemd on systemd hosts).",
  kubeProxy:
    ' ipvs needs the ip_vs kernel modules (kubestrap loads them) and is deprecated from 1.35; nftables needs kernel 5.13+; iptables works everywhere.',
  cni: ' The pod network: flannel (bundled default), calico, or none to install your own.',
  controlPlaneEndpoint: ' A stable address (load balancer or VIP) in front of every API server.',
};

export function renderInventory(inventory: Record<string, unknown>): string {
  const doc = new Document(inventory);
  const annotate = (node: unknown) => {
    if (!isMap(node)) return;
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const pair = item;
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (COMMENTS[key] && isScalar(pair.key)) pair.key.commentBefore = COMMENTS[key];
      annotate(pair.value);
    }
  };
  annotate(doc.contents);
  return doc.toString({ lineWidth: 0 });
}
