/** Kernel modules a node needs, and the modules-load.d file that loads them at boot. */
export const MODULES_FILE = '/etc/modules-load.d/kubernetes.conf';

export interface ModuleNeeds {
  readonly ipvs: boolean;
  /** nf_conntrack_ipv4 was merged into nf_conntrack in 4.19. */
  readonly kernelBefore419: boolean;
  readonly extra: readonly string[];
}

export function requiredModules(needs: ModuleNeeds): string[] {
  const modules = ['overlay', 'br_netfilter'];
  if (needs.ipvs) modules.push('ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', needs.kernelBefore419 ? 'nf_conntrack_ipv4' : 'nf_conntrack');
  for (const m of needs.extra) if (!modules.includes(m)) modules.push(m);
  return modules;
}

export function renderModulesLoad(modules: readonly string[]): string {
  return `# Managed by kubestrap: kernel modules Kubernetes needs, loaded at boot.\n${modules.join('\n')}\n`;
}
