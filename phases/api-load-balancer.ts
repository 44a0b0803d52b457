/**
 * api-load-balancer: in node-local mode, every worker gets HAProxy as a static pod in front of
 * all API servers (templates/api-load-balancer.ts). The manifest carries a hash of the
 * configuration, so a changed list of control planes restarts the pod through the kubelet.
 */
import { createHash } from 'node:crypto';
import { loadBalancerInput } from '../src/kube/node-files.js';
import { applyFiles, planFiles, type FilePayload } from '../src/kit/managed-files.js';
import type { Phase } from '../src/kit/phase.js';
import { workers } from '../src/kit/hosts.js';
import { haproxyConfig, LB_CONFIG_PATH, LB_MANIFEST_PATH, loadBalancerPod } from '../templates/api-load-balancer.js';
import { manifestYaml } from '../templates/control-plane.js';

export const apiLoadBalancerPhase: Phase<FilePayload> = {
  name: 'api-load-balancer',
  title: 'node-local API load balancer on workers (node-local mode)',
  description: 'Writes the HAProxy configuration and static pod that serve the API name on 127.0.0.1:6443 from every control plane.',
  selectHosts: (ctx) => (ctx.inventory.cluster.apiLoadBalancer.mode === 'node-local' ? workers(ctx) : []),
  async plan(ctx, target) {
    const input = loadBalancerInput(ctx.inventory);
    const config = haproxyConfig(input);
    const pod = loadBalancerPod(input);
    const hashed = {
      ...pod,
      metadata: {
        ...pod.metadata,
        annotations: { 'kubestrap.dev/config-sha256': createHash('sha256').update(config).digest('hex').slice(0, 16) },
      },
    };
    return {
      changes: await planFiles(target.host, [
        { path: LB_CONFIG_PATH, content: config, mode: 0o644 },
        { path: LB_MANIFEST_PATH, content: manifestYaml(hashed), mode: 0o600 },
      ]),
    };
  },
  async apply(_ctx, target, changes) {
    await applyFiles(target.host, changes);
  },
};
