/**
 * The doctor's certificate checks, from the rows `certs check-expiration` reads: a certificate or
 * kubeconfig expired (an error) or expiring within 30 days (a warning: kubeadm renews on upgrade,
 * and a cluster not upgraded within a year meets this), the kubelet's rotating client certificate
 * that stopped rotating, a CA in its last year.
 */
import type { ExpirationRow } from '../pki/expiration.js';
import type { Finding, KubestrapCommand } from './finding.js';

/** Within this many days a certificate is reported: the window kubeadm's own warnings use. */
const LEAF_WARNING_DAYS = 30;
/** A CA in its last year: a leaf issued from it cannot outlive it. */
const CA_WARNING_DAYS = 365;

const KUBELET_CLIENT = 'kubelet client (rotating)';
const KUBELET_SERVING = 'kubelet serving';

function when(row: ExpirationRow): string {
  return row.residualDays < 0
    ? `expired on ${row.expires.slice(0, 10)}`
    : `expires in ${row.residualDays} days (${row.expires.slice(0, 10)})`;
}

function finding(row: ExpirationRow, why: string, fix: string, warningDays: number): Finding | undefined {
  if (row.residualDays >= warningDays) return undefined;
  return {
    severity: row.residualDays < 0 ? 'error' : 'warning',
    group: 'certificates',
    subject: row.node,
    problem: `${row.kind === 'kubeconfig' ? 'the client certificate of ' : ''}${row.name} ${when(row)}`,
    why,
    fix,
  };
}

function rowFinding(row: ExpirationRow, kubestrap: KubestrapCommand, controlPlanes: ReadonlySet<string>): Finding | undefined {
  // the kubelet's self-signed serving certificate is its fallback, unused while it has one from the cluster
  if (row.authority === 'self') return undefined;
  if (row.kind === 'ca')
    return finding(
      row,
      'every certificate issued from this CA stops being trusted when it expires: the whole cluster stops at once',
      'kubestrap cannot rotate a CA yet: follow "Manual Rotation of CA Certificates" in the Kubernetes documentation',
      CA_WARNING_DAYS,
    );
  if (row.name === KUBELET_CLIENT)
    return finding(
      row,
      'the kubelet rotates this certificate well before it expires; close to its end it has stopped rotating, and once expired the node cannot reach the API server (NotReady)',
      controlPlanes.has(row.node)
        ? `${kubestrap(`certs renew kubelet.conf --hosts ${row.node}`)} (a new client certificate in its kubelet.conf)`
        : `${kubestrap(`remove-node ${row.node} --yes`)}, then ${kubestrap('apply')} (joins it again with a new kubelet client certificate)`,
      LEAF_WARNING_DAYS,
    );
  if (row.name === KUBELET_SERVING)
    return finding(
      row,
      'metrics-server, kubectl logs and kubectl exec reach the kubelet through this certificate',
      `${kubestrap('apply')} (approves the kubelet's pending request for a new one)`,
      LEAF_WARNING_DAYS,
    );
  return finding(
    row,
    row.kind === 'kubeconfig'
      ? 'the component or administrator using this kubeconfig is refused by the API server once it expires'
      : 'the control plane refuses the connections this certificate authenticates once it expires (API server, etcd, front proxy)',
    kubestrap('certs renew all'),
    LEAF_WARNING_DAYS,
  );
}

export function certificateFindings(
  rows: readonly ExpirationRow[],
  kubestrap: KubestrapCommand,
  controlPlanes: ReadonlySet<string>,
): Finding[] {
  return rows.flatMap((row) => rowFinding(row, kubestrap, controlPlanes) ?? []);
}
