/**
 * The doctor's etcd checks, on each control plane running a member (stacked etcd): the member
 * answers, knows a leader, and raises no alarm (NOSPACE: the cluster refuses every write).
 */
import { EtcdClient } from '../etcd/client.js';
import { printable } from '../log/redact.js';
import type { Host } from '../transport/host.js';
import { messageOf } from '../util/errors.js';
import { PKI_DIR } from '../../templates/paths.js';
import type { Finding, KubestrapCommand } from './finding.js';

/** etcdctl on the node, with the API server's own etcd client certificate. */
const ETCDCTL = `etcdctl --endpoints https://127.0.0.1:2379 --cacert ${PKI_DIR}/etcd/ca.crt --cert ${PKI_DIR}/apiserver-etcd-client.crt --key ${PKI_DIR}/apiserver-etcd-client.key`;

export async function etcdFindings(host: Host, node: string, kubestrap: KubestrapCommand): Promise<Finding[]> {
  const found = (problem: string, why: string, fix: string): Finding[] => [
    { severity: 'error', group: 'etcd', subject: `etcd member on ${node}`, problem, why, fix },
  ];
  let client: EtcdClient | undefined;
  try {
    client = await EtcdClient.onControlPlane(host);
    if (!client)
      return found(
        `no etcd client certificate under ${PKI_DIR} (apiserver-etcd-client.crt, etcd/ca.crt)`,
        'the API server of this control plane cannot reach etcd',
        kubestrap(`certs renew apiserver-etcd-client --hosts ${node}`),
      );
    const status = await client.status();
    const alarms = status.errors.map((e) => printable(e));
    if (alarms.length)
      return found(
        `raises ${alarms.join('; ')}`,
        alarms.some((a) => /NOSPACE/i.test(a))
          ? 'etcd refuses every write while NOSPACE is raised: nothing in the cluster can change'
          : 'etcd reports itself unhealthy',
        `on ${node}: free space (${ETCDCTL} defrag), then ${ETCDCTL} alarm disarm`,
      );
    if (status.leader === '0')
      return found(
        'knows no leader',
        'without a leader etcd serves no read or write: the API server stops answering',
        `on each control plane: crictl ps -a --name etcd; crictl logs --tail 20 $(crictl ps -a -q --name etcd | head -n 1)`,
      );
    return [];
  } catch (err) {
    return found(
      `does not answer: ${printable(messageOf(err))}`,
      'the cluster runs on one member fewer: with three members the next failure stops it, with one the API server stops now',
      `on ${node}: crictl ps -a --name etcd; crictl logs --tail 20 $(crictl ps -a -q --name etcd | head -n 1)`,
    );
  } finally {
    await client?.close();
  }
}
