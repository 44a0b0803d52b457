/**
 * What Flannel leaves on a node from an earlier membership. A node joined again after its Node
 * was deleted gets a new pod range, but keeps /run/flannel/subnet.env and the cni0 bridge made for
 * the old one: every pod sandbox then fails with "cni0 already has an IP address different from
 * …" (or takes an address of the old range) and stays in ContainerCreating. A node that is not a
 * member has no pods of this cluster to keep, so both go before it joins; Flannel's daemon writes
 * the new range once its pod runs there, and its bridge plugin makes cni0 again for it — what
 * operators do by hand with `ip link delete cni0`.
 */
const SUBNET_ENV = '/run/flannel/subnet.env';

/**
 * A host script removing Flannel's state of an earlier membership, printing the bridge address it
 * had. Only where cni0 is still there, a bridge that outlived its Node: a node kubestrap reset has
 * none, and Flannel's daemon writes its range file again when its pod starts there.
 */
export const forgetFlannelMembership = (): string =>
  [
    "had=$(ip -4 -o addr show dev cni0 2>/dev/null | awk '{print $4}' | head -n 1)",
    `if ip link show cni0 >/dev/null 2>&1; then rm -f ${SUBNET_ENV} && ip link delete cni0 && echo "cni0 \${had:-without an address}"; fi`,
  ].join('\n');
