/**
 * The inventory file format (apiVersion kubestrap.dev/v1alpha1, kind Cluster), defined once.
 * Types, the YAML reader, the JSON Schema (inventories/schema.json) and the field reference of
 * docs/inventory.md are all derived from the definitions below.
 */
import { DEFAULT_KUBERNETES_VERSION } from '../util/version.js';
import {
  boolean,
  integer,
  list,
  object,
  oneOf,
  optional,
  record,
  section,
  string,
  withDefault,
  type Infer,
  type Schema,
} from './schema-dsl.js';

export const API_VERSION = 'kubestrap.dev/v1alpha1';
export const KIND = 'Cluster';

/** Environment variable names: secrets are referenced, never written into the file. */
const ENV_NAME = { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternHint: 'a valid environment variable name' };
const DNS_LABEL = { pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, patternHint: 'a lower-case DNS label (a-z, 0-9, -)' };
const NODE_NAME = {
  pattern: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
  patternHint: 'a lower-case DNS subdomain (a-z, 0-9, ., -) as Kubernetes requires for node names',
};
const FINGERPRINT = {
  pattern: /^SHA256:[A-Za-z0-9+/]{43}$/,
  patternHint: 'an OpenSSH fingerprint like SHA256:<43 base64 characters> (see ssh-keygen -lf)',
};
const DURATION = { pattern: /^([0-9]+h)?([0-9]+m)?$/, patternHint: 'a duration in hours and minutes such as 8760h' };
/** What an image reference may be made of (parseImageRef checks the structure in validation). */
const IMAGE_REF = { pattern: /^[a-z0-9][A-Za-z0-9._/:@-]*$/, patternHint: 'an image reference such as registry.local/pause:3.2' };
const SHA256_HEX = { pattern: /^[0-9a-f]{64}$/, patternHint: '64 lower-case hex characters' };
/**
 * Download URLs: http(s) only (a leading "-" would become a curl option), no credentials
 * (they would land in world-readable repository files, remote argv and logs), no quotes,
 * spaces or backslashes.
 */
const URL = {
  pattern: /^https?:\/\/(?![^/]*@)[^\s'"\\`]+$/,
  patternHint: 'an http(s):// URL without user:password@ (give credentials to the package manager on the host instead)',
};
/** Kubernetes' label key syntax: an optional DNS-subdomain prefix and a name of at most 63 characters. */
const LABEL_KEY = {
  pattern: /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
  hint: 'a Kubernetes label key ([prefix/]name: name of at most 63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric)',
};
/** Kubernetes' label value syntax (also taint values). */
const LABEL_VALUE = {
  pattern: /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/,
  patternHint: 'a Kubernetes label value (at most 63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric, or empty)',
};
/** Command-line flag names as Kubernetes components spell them. */
const FLAG_NAME = { pattern: /^[A-Za-z0-9][-A-Za-z0-9_.]*$/, hint: 'a flag name without leading dashes (letters, digits, - _ .)' };
/** Absolute paths (hostPath volumes): no `..` component. */
const ABSOLUTE_PATH = {
  pattern: /^\/(?!.*(^|\/)\.\.(\/|$))[^\s'"`$\\]*$/,
  patternHint: 'an absolute path without .., spaces, quotes or $',
};
// an etcd client URL: TLS only (kubestrap reaches etcd with the API server's client certificate), host or [IPv6], a port, no path
const ETCD_ENDPOINT = {
  pattern: /^https:\/\/([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$/,
  patternHint: 'https://HOST:PORT (etcd over TLS, no path)',
};
/** sysctl names: dotted (or slashed) lower-case words, as under /proc/sys. */
const SYSCTL_KEY = { pattern: /^[a-z0-9_]+([./][a-z0-9_-]+)+$/, hint: 'a sysctl name such as net.ipv4.ip_forward' };
/** A registry as containerd's certs.d names its directories: host[:port], or _default. */
const REGISTRY_HOST = {
  pattern: /^(_default|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?|\[[0-9a-f:]+\](:[0-9]{1,5})?)$/,
  hint: 'a registry host[:port] (or _default)',
};

const auth = object(
  'auth',
  {
    keyPath: optional(
      string({ description: 'Private key file for public-key login. `~` expands to the home directory.', example: '~/.ssh/id_ed25519' }),
    ),
    passphraseEnv: optional(
      string({ description: 'Environment variable holding the key passphrase.', example: 'KUBESTRAP_KEY_PASSPHRASE' }, ENV_NAME),
    ),
    passphrasePrompt: optional(boolean({ description: 'Ask for the key passphrase on the terminal (once per key file).' })),
    agent: optional(boolean({ description: 'Authenticate with the ssh-agent at $SSH_AUTH_SOCK.' })),
    passwordEnv: optional(
      string({ description: 'Environment variable holding the login password.', example: 'KUBESTRAP_SSH_PASSWORD' }, ENV_NAME),
    ),
  },
  {
    description:
      'How to log in. Exactly one of keyPath, agent or passwordEnv. Default: the ssh-agent when $SSH_AUTH_SOCK is set, else the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa.',
  },
);

const sudo = object(
  'sudo',
  {
    mode: oneOf(['none', 'passwordless', 'password'] as const, {
      description:
        'none: commands run as the login user (which must be root); passwordless: `sudo -n`; password: sudo reads the password from stdin.',
    }),
    passwordEnv: optional(
      string(
        { description: 'Environment variable holding the sudo password (mode: password).', example: 'KUBESTRAP_SUDO_PASSWORD' },
        ENV_NAME,
      ),
    ),
  },
  { description: 'Privilege escalation for a non-root login user. Default: none for root, passwordless otherwise.' },
);

const bastion = object(
  'bastion',
  {
    address: string({ description: 'Jump host address (IP or DNS name).', example: 'bastion.example.com' }, { minLength: 1 }),
    port: withDefault(integer({ description: 'Jump host SSH port.' }, { min: 1, max: 65535 }), 22),
    user: withDefault(string({ description: 'Jump host login user.' }, { minLength: 1 }), 'root'),
    auth: optional(auth),
    hostKey: optional(
      string(
        { description: 'Pinned SHA256 fingerprint of the jump host key.', example: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' },
        FINGERPRINT,
      ),
    ),
  },
  { description: 'Jump host (like `ssh -J`) through which the host is reached.' },
);

const taint = object(
  'taint',
  {
    key: string(
      { description: 'Taint key.', example: 'dedicated' },
      { minLength: 1, pattern: LABEL_KEY.pattern, patternHint: LABEL_KEY.hint },
    ),
    value: optional(string({ description: 'Taint value.', example: 'gpu' }, LABEL_VALUE)),
    effect: oneOf(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const, { description: 'Taint effect.' }),
  },
  { description: 'A node taint.' },
);

export const ROLES = ['control-plane', 'worker'] as const;

const host = object(
  'host',
  {
    name: string(
      { description: 'Unique name of the host in the inventory; also the default Kubernetes node name.', example: 'cp-1' },
      NODE_NAME,
    ),
    address: string(
      {
        description:
          'IP address or DNS name kubestrap connects to, or a Host alias of ~/.ssh/config (its HostName, User, Port, IdentityFile, ProxyJump, UserKnownHostsFile and HostKeyAlias apply where the inventory sets nothing).',
        example: '192.168.56.10',
      },
      { minLength: 1 },
    ),
    port: optional(
      integer(
        { description: 'SSH port. Default: hostDefaults.port, else the Port ~/.ssh/config gives the address, else 22.' },
        { min: 1, max: 65535 },
      ),
    ),
    user: optional(
      string(
        { description: 'SSH login user. Default: hostDefaults.user, else the User ~/.ssh/config gives the address, else root.' },
        { minLength: 1 },
      ),
    ),
    auth: optional(auth),
    sudo: optional(sudo),
    hostKey: optional(
      string(
        {
          description: 'Pinned SHA256 fingerprint of the host key. Without it, the known_hosts file decides.',
          example: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
        },
        FINGERPRINT,
      ),
    ),
    bastion: optional(bastion),
    roles: list(
      oneOf(ROLES, { description: 'A role.' }),
      {
        description: 'Roles of the host. Control planes also run etcd, unless cluster.etcd.external names one.',
        example: ['control-plane'],
      },
      { minItems: 1 },
    ),
    labels: optional(
      record(
        string({ description: 'Label value.' }, LABEL_VALUE),
        { description: 'Node labels.', example: { 'node.kubernetes.io/pool': 'general' } },
        { pattern: LABEL_KEY.pattern, hint: LABEL_KEY.hint },
      ),
    ),
    taints: optional(
      list(taint, { description: 'Node taints (control planes also get the control-plane taint unless they are workers too).' }),
    ),
    advertiseAddress: optional(
      string({
        description:
          'Address the node advertises to the cluster (node IP, API server advertise address). Default: the SSH address when it is an IP.',
        example: '10.0.0.10',
      }),
    ),
    nodeName: optional(
      string({ description: 'Kubernetes node name when it differs from the host name.', example: 'node-a.example.com' }, NODE_NAME),
    ),
  },
  { description: 'A machine of the cluster.' },
);

const hostDefaults = section(
  'hostDefaults',
  {
    port: optional(integer({ description: "SSH port. Default: ~/.ssh/config's Port for the host, else 22." }, { min: 1, max: 65535 })),
    user: optional(string({ description: "SSH login user. Default: ~/.ssh/config's User for the host, else root." }, { minLength: 1 })),
    auth: optional(auth),
    sudo: optional(sudo),
    bastion: optional(bastion),
    knownHostsFile: optional(
      string({
        description:
          "known_hosts file used to verify host keys that are not pinned. Default: ~/.ssh/config's UserKnownHostsFile for the host, else ~/.ssh/known_hosts.",
      }),
    ),
    connectTimeoutSeconds: withDefault(integer({ description: 'SSH connect timeout.' }, { min: 1, max: 600 }), 20),
  },
  { description: 'SSH settings applied to every host unless the host sets its own.' },
);

const extraVolume = object(
  'extraVolume',
  {
    name: string({ description: 'Volume name.', example: 'audit' }, DNS_LABEL),
    hostPath: string({ description: 'Path on the host.', example: '/var/log/kubernetes' }, { minLength: 1, ...ABSOLUTE_PATH }),
    mountPath: string({ description: 'Path in the container.', example: '/var/log/kubernetes' }, { minLength: 1, ...ABSOLUTE_PATH }),
    readOnly: withDefault(boolean({ description: 'Mount read-only.' }), false),
    pathType: withDefault(
      oneOf(['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const, {
        description: 'hostPath type.',
      }),
      'DirectoryOrCreate',
    ),
  },
  { description: 'An extra hostPath volume for a static pod.' },
);

const envVar = object(
  'envVar',
  {
    name: string({ description: 'Variable name.', example: 'HTTPS_PROXY' }, ENV_NAME),
    value: string({ description: 'Variable value.', example: 'http://proxy:3128' }),
  },
  { description: 'An environment variable.' },
);

// kubeadm's etcd.external: an etcd cluster the control planes do not run (kubeadm's "external etcd" topology, Kubespray's host etcd)
const externalEtcd = object(
  'externalEtcd',
  {
    endpoints: list(
      string({ description: 'Client URL of an etcd member.', example: 'https://10.0.0.11:2379' }, ETCD_ENDPOINT),
      {
        description: "The etcd members' client URLs (the API server's --etcd-servers).",
        example: ['https://10.0.0.11:2379', 'https://10.0.0.12:2379'],
      },
      { minItems: 1 },
    ),
    caFile: string(
      {
        description: "The etcd CA certificate, a path on every control plane (the API server's --etcd-cafile).",
        example: '/etc/ssl/etcd/ssl/ca.pem',
      },
      ABSOLUTE_PATH,
    ),
    certFile: string(
      {
        description: 'The client certificate the API server presents to etcd, a path on every control plane.',
        example: '/etc/ssl/etcd/ssl/node-cp-1.pem',
      },
      ABSOLUTE_PATH,
    ),
    keyFile: string(
      { description: "That certificate's private key, a path on every control plane.", example: '/etc/ssl/etcd/ssl/node-cp-1-key.pem' },
      ABSOLUTE_PATH,
    ),
  },
  {
    description:
      "An etcd cluster the control planes do not run (like kubeadm's etcd.external). kubestrap then writes no etcd manifest and no etcd certificates, copies these three files to a joining control plane, and backs up through these endpoints; it neither upgrades nor resets that etcd.",
  },
);

function component<E extends Record<string, Schema<unknown>>>(name: string, extra: E = {} as E) {
  return section(
    name,
    {
      ...extra,
      extraArgs: withDefault(
        record(
          string({ description: 'Flag value.' }),
          { description: `Extra or overriding command-line flags for ${name} (without leading --).`, example: { v: '2' } },
          FLAG_NAME,
        ),
        {},
      ),
      extraVolumes: withDefault(list(extraVolume, { description: `Extra hostPath volumes for ${name}.` }), []),
      extraEnvs: withDefault(list(envVar, { description: `Extra environment variables for ${name}.` }), []),
    },
    { description: `Settings of the ${name} static pod (like kubeadm's ClusterConfiguration.${name}).` },
  );
}

const cluster = object(
  'cluster',
  {
    name: withDefault(string({ description: 'Cluster name (kubeconfig cluster name).' }, DNS_LABEL), 'kubernetes'),
    kubernetesVersion: string(
      { description: 'Kubernetes version to install, v1.20.0 to v1.37.x.', example: DEFAULT_KUBERNETES_VERSION },
      { pattern: /^v?\d+\.\d+\.\d+$/, patternHint: 'a version like v1.23.17' },
    ),
    controlPlaneEndpoint: optional(
      string({
        description:
          'Stable address of the API (load balancer or VIP), host[:port]. Required with more than one control plane, unless apiLoadBalancer.mode is node-local.',
        example: 'k8s-api.example.com:6443',
      }),
    ),
    apiLoadBalancer: section(
      'apiLoadBalancer',
      {
        mode: withDefault(
          oneOf(['none', 'node-local'] as const, {
            description:
              'node-local: every worker runs HAProxy (static pod) on 127.0.0.1:6443 in front of all API servers, and the endpoint is a name (apiLoadBalancer.domain) that /etc/hosts points at 127.0.0.1 on workers and at the node itself on control planes. No VIP, no external load balancer; losing a control plane loses no node.',
          }),
          'none',
        ),
        domain: withDefault(
          string(
            { description: 'Name of the API endpoint in node-local mode (in every API server certificate).' },
            { pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, patternHint: 'a DNS name' },
          ),
          'lb.kubestrap.local',
        ),
        image: optional(
          string(
            {
              description:
                'HAProxy image for node-local mode. Default: docker.io/library/haproxy:2.8 (mirror it through containerRuntime.registryMirrors behind a firewall).',
              example: 'registry.local/haproxy:2.6',
            },
            { minLength: 1 },
          ),
        ),
      },
      { description: 'The API endpoint when there is no external load balancer or VIP.' },
    ),
    networking: section(
      'networking',
      {
        podSubnet: withDefault(string({ description: 'Pod network CIDR.', example: '172.168.0.0/16' }), '10.244.0.0/16'),
        serviceSubnet: withDefault(
          string({ description: 'Service network CIDR (the API gets its 1st address, DNS its 10th).' }),
          '10.96.0.0/12',
        ),
        dnsDomain: withDefault(
          string({ description: 'Cluster DNS domain.' }, { pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, patternHint: 'a DNS domain' }),
          'cluster.local',
        ),
      },
      { description: 'Cluster networks.' },
    ),
    imageRepository: withDefault(
      string(
        {
          description: 'Registry for control-plane, pause, CoreDNS and kube-proxy images (a mirror behind a firewall).',
          example: 'registry.cn-hangzhou.aliyuncs.com/google_containers',
        },
        { minLength: 1 },
      ),
      'registry.k8s.io',
    ),
    packages: section(
      'packages',
      {
        source: withDefault(
          oneOf(['upstream', 'mirror', 'offline'] as const, { description: 'Where kubelet/kubectl packages come from.' }),
          'upstream',
        ),
        mirror: optional(
          string(
            {
              description: 'Package repository base URL (source: mirror); http:// only with unsigned: true.',
              example: 'https://mirrors.aliyun.com/kubernetes-new',
            },
            URL,
          ),
        ),
        offlineDir: optional(
          string({
            description: 'Workstation directory of .deb or .rpm files to upload and install (source: offline).',
            example: './offline/v1.23.17',
          }),
        ),
        mirrorLayout: withDefault(
          oneOf(['pkgs.k8s.io', 'legacy'] as const, {
            description:
              'Layout of the mirror: pkgs.k8s.io (core:/stable:/v1.X/deb|rpm/, versions like 1.28.2-1.1) or the legacy apt/yum layout (kubernetes-xenial, kubernetes-el7-$basearch; versions like 1.23.17-00).',
          }),
          'pkgs.k8s.io',
        ),
        unsigned: withDefault(boolean({ description: 'The mirror has no signing key: trust it as is (internal mirrors only).' }), false),
      },
      { description: 'Kubernetes package source.' },
    ),
    airgap: section(
      'airgap',
      {
        bundle: optional(
          string(
            {
              description:
                'Air-gap bundle (kubestrap bundle create) to take every image, Kubernetes package and CNI manifest from; apply uploads to each node only what it lacks and imports the images into containerd. Relative to the inventory file.',
              example: './cluster-v1.33.1.bundle',
            },
            { minLength: 1 },
          ),
        ),
        trustedKeys: withDefault(
          list(string({ description: 'A public key file (PEM, Ed25519).', example: './bundle-signing.pub' }, { minLength: 1 }), {
            description:
              'Public keys (PEM, Ed25519; kubestrap bundle keygen or openssl genpkey -algorithm ed25519) whose signature makes a bundle trusted: plan and apply refuse an unsigned bundle, one signed by another key, or one whose bundle.json changed after it was signed, before any host is contacted. Relative to the inventory file.',
            example: ['./bundle-signing.pub'],
          }),
          [],
        ),
        bundleSha256: optional(
          string(
            {
              description:
                "sha256 of the bundle's bundle.json, as bundle create and bundle verify print it: plan and apply refuse any other bundle. bundle.json holds every entry's sha256, so the pin covers the whole bundle.",
              example: '3b0c…(64 hex)',
            },
            SHA256_HEX,
          ),
        ),
        registry: optional(
          object(
            'siteRegistry',
            {
              host: string(
                {
                  description: 'The inventory host that runs the registry (a systemd unit running the registry image with containerd).',
                  example: 'cp-1',
                },
                DNS_LABEL,
              ),
              port: withDefault(integer({ description: 'HTTPS port of the registry on that host.' }, { min: 1, max: 65535 }), 5000),
              // it reaches the registry's systemd unit: an image reference's characters only
              image: withDefault(
                string({ description: 'The registry image, carried in the bundle.', example: 'registry.local/registry:2.8' }, IMAGE_REF),
                'docker.io/library/registry:2.8.3',
              ),
            },
            {
              description:
                "Site registry mode: instead of uploading the images to every node, apply runs a registry from the bundle on one inventory host, loads the images into it once, and points every node's containerd at it (certs.d) over TLS with a serving certificate from a CA of its own (never the cluster CA, which API clients trust).",
            },
          ),
        ),
      },
      { description: 'Air-gapped sites: nodes that reach no registry and no package mirror.' },
    ),
    containerRuntime: section(
      'containerRuntime',
      {
        source: withDefault(
          oneOf(['distro', 'docker'] as const, { description: "containerd from the distribution's repositories or Docker's." }),
          'distro',
        ),
        dockerRepository: optional(
          string(
            {
              description: "Base URL of Docker's package repository or a mirror of it (source: docker).",
              example: 'https://mirrors.aliyun.com/docker-ce',
            },
            URL,
          ),
        ),
        cgroupDriver: withDefault(
          oneOf(['systemd', 'cgroupfs'] as const, { description: 'cgroup driver of containerd and the kubelet (they must match).' }),
          'systemd',
        ),
        // both reach kubeadm-flags.env, which systemd splits at white space: nothing but their own syntax
        socket: withDefault(
          string(
            { description: 'CRI socket.' },
            {
              pattern: /^unix:\/\/\/(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]+$/,
              patternHint: 'unix:///<absolute path> (letters, digits, . _ - /)',
            },
          ),
          'unix:///run/containerd/containerd.sock',
        ),
        sandboxImage: optional(
          string(
            {
              description: 'Pause image override. Default: <imageRepository>/pause:<version for the release>.',
              example: 'registry.local/pause:3.2',
            },
            IMAGE_REF,
          ),
        ),
        restrictOOMScoreAdj: withDefault(
          boolean({
            description: 'Tell containerd not to raise OOM scores (needed when nodes run inside containers without CAP_SYS_RESOURCE).',
          }),
          false,
        ),
        registryMirrors: withDefault(
          record(
            list(string({ description: 'Endpoint URL.' }, URL), { description: 'Mirror endpoints for one registry.' }),
            {
              description: 'Registry host[:port] → mirror endpoints, written to containerd config (certs.d/<host>/hosts.toml).',
              example: { 'docker.io': ['https://mirror.example.com'] },
            },
            REGISTRY_HOST,
          ),
          {},
        ),
      },
      { description: 'Container runtime (containerd).' },
    ),
    kubeProxy: section(
      'kubeProxy',
      {
        mode: withDefault(
          oneOf(['ipvs', 'iptables', 'nftables'] as const, {
            description: 'kube-proxy mode (nftables: GA from 1.33, needs kernel 5.13+; ipvs is deprecated from 1.35).',
          }),
          'ipvs',
        ),
        ipvsScheduler: withDefault(string({ description: 'IPVS scheduler (mode: ipvs).' }), 'rr'),
        conntrackMaxPerCore: optional(
          integer(
            {
              description:
                'conntrack.maxPerCore of kube-proxy; 0 leaves the kernel limit alone (nodes in containers, where it is read-only).',
              example: 0,
            },
            { min: 0, max: 1_000_000 },
          ),
        ),
      },
      { description: 'kube-proxy settings.' },
    ),
    cni: section(
      'cni',
      {
        plugin: withDefault(oneOf(['flannel', 'calico', 'none'] as const, { description: 'CNI plugin to install.' }), 'flannel'),
        mtu: optional(integer({ description: 'MTU for the pod network.' }, { min: 576, max: 9000 })),
        calicoManifest: optional(
          string({
            description: 'Calico manifest URL or local file.',
            example: 'https://raw.githubusercontent.com/projectcalico/calico/v3.26.4/manifests/calico.yaml',
          }),
        ),
        calicoManifestSha256: optional(string({ description: 'Expected sha256 of the Calico manifest.' }, SHA256_HEX)),
        imageRepository: optional(
          string(
            {
              description:
                'Registry (and path) holding the CNI images when ghcr.io, docker.io or quay.io are out of reach (flannel, flannel-cni-plugin; calico/*).',
              example: 'registry.example.com/cni',
            },
            { minLength: 1 },
          ),
        ),
      },
      { description: 'Pod network (CNI).' },
    ),
    addons: section(
      'addons',
      {
        coreDNS: withDefault(boolean({ description: 'Install CoreDNS.' }), true),
        kubeProxy: withDefault(boolean({ description: 'Install kube-proxy.' }), true),
        metricsServer: withDefault(boolean({ description: 'Install metrics-server.' }), true),
        metricsServerInsecureTLS: withDefault(
          boolean({ description: 'Run metrics-server with --kubelet-insecure-tls instead of relying on kubelet serving certificates.' }),
          false,
        ),
        waitReady: optional(
          string(
            {
              description:
                'apply waits until every add-on is Ready, at most this long, and fails naming what is not (as apply --wait-addons). Unset: apply ends by reporting their state, with a warning for each one not Ready.',
              example: '5m',
            },
            { pattern: /^(?=\d)(\d+h)?(\d+m)?(\d+s)?$/, patternHint: 'a duration such as 5m or 90s' },
          ),
        ),
      },
      { description: 'Bundled add-ons.' },
    ),
    certificates: section(
      'certificates',
      {
        validity: withDefault(string({ description: 'Validity of leaf certificates.' }, DURATION), '8760h'),
        caValidity: withDefault(string({ description: 'Validity of CA certificates.' }, DURATION), '87600h'),
        keyAlgorithm: withDefault(
          oneOf(['RSA-2048', 'RSA-3072', 'RSA-4096'] as const, { description: 'Key type of every generated key.' }),
          'RSA-2048',
        ),
        certSANs: withDefault(
          list(string({ description: 'DNS name or IP.' }), {
            description: 'Extra SANs for the API server certificate.',
            example: ['k8s.example.com'],
          }),
          [],
        ),
      },
      { description: 'PKI settings.' },
    ),
    apiServer: component('apiServer'),
    controllerManager: component('controllerManager'),
    scheduler: component('scheduler'),
    etcd: component('etcd', {
      imageTag: optional(
        string(
          { description: 'etcd image tag (default: the version kubeadm pairs with the release).', example: '3.5.6-0' },
          { minLength: 1 },
        ),
      ),
      external: optional(externalEtcd),
    }),
    kubelet: section(
      'kubelet',
      {
        extraArgs: withDefault(
          record(
            // systemd splits $KUBELET_KUBEADM_ARGS at white space: a value holding one would become two flags
            string(
              { description: 'Flag value (no white space or quotes).' },
              { pattern: /^[^\s'"\\`$]*$/, patternHint: 'a kubelet flag value without white space, quotes, \\, ` or $' },
            ),
            {
              description:
                "Extra or overriding kubelet flags (without leading --), written to every node's kubeadm-flags.env (like kubeadm's nodeRegistration.kubeletExtraArgs).",
              example: { 'max-pods': '200' },
            },
            FLAG_NAME,
          ),
          {},
        ),
        failCgroupV1: optional(
          boolean({
            description:
              'Written into the kubelet configuration when set. From Kubernetes 1.35 the kubelet refuses cgroup v1 hosts unless this is false; set false to stay on cgroup v1 for now (the CgroupsV1 preflight check then warns instead of failing).',
            example: false,
          }),
        ),
      },
      { description: "The kubelet's settings on every node." },
    ),
  },
  { description: 'Cluster-wide settings (like kubeadm ClusterConfiguration).' },
);

const preparation = section(
  'preparation',
  {
    sysctl: withDefault(
      record(
        string(
          { description: 'Value.' },
          { pattern: /^[-A-Za-z0-9_.:/, ]*$/, patternHint: 'a sysctl value (digits, words, spaces, - _ . : / ,)' },
        ),
        {
          description: 'Kernel settings added to, or overriding, the defaults kubestrap writes to /etc/sysctl.d/kubernetes.conf.',
          example: { 'fs.inotify.max_user_instances': '8192' },
        },
        SYSCTL_KEY,
      ),
      {},
    ),
    kernelModules: withDefault(
      list(string({ description: 'Module name.' }, { pattern: /^[a-z0-9_-]+$/, patternHint: 'a kernel module name' }), {
        description: 'Extra kernel modules to load now and at boot.',
        example: ['nf_conntrack'],
      }),
      [],
    ),
    manageEtcHosts: withDefault(
      boolean({ description: 'Keep a managed block in /etc/hosts with the control planes and the node itself.' }),
      true,
    ),
    swapOff: withDefault(
      boolean({ description: 'Turn swap off now and after reboot (the kubelet refuses to run with swap by default).' }),
      true,
    ),
    setHostname: withDefault(boolean({ description: 'Set each host name to its node name.' }), true),
    limits: section(
      'limits',
      {
        nofile: withDefault(
          string(
            { description: 'Open files limit (soft and hard).' },
            { pattern: /^(\d+|unlimited)$/, patternHint: 'a number or unlimited' },
          ),
          '655360',
        ),
        nproc: withDefault(
          string(
            { description: 'Processes limit (soft and hard).' },
            { pattern: /^(\d+|unlimited)$/, patternHint: 'a number or unlimited' },
          ),
          '655360',
        ),
        memlock: withDefault(
          string(
            { description: 'Locked memory limit (soft and hard).' },
            { pattern: /^(\d+|unlimited)$/, patternHint: 'a number or unlimited' },
          ),
          'unlimited',
        ),
      },
      { description: 'Resource limits written to /etc/security/limits.d/kubernetes.conf.' },
    ),
    timeSync: withDefault(
      oneOf(['auto', 'none'] as const, {
        description: 'auto: make sure chrony or systemd-timesyncd runs (installing chrony if neither exists); none: leave time alone.',
      }),
      'auto',
    ),
    selinux: withDefault(
      oneOf(['permissive', 'leave'] as const, {
        description: 'SELinux on RHEL-family hosts: set permissive (now and in /etc/selinux/config) or leave it.',
      }),
      'permissive',
    ),
    firewall: withDefault(
      oneOf(['open-ports', 'disable', 'leave'] as const, {
        description: "An active firewalld or ufw: open the Kubernetes ports for the host's roles, disable it, or leave it.",
      }),
      'open-ports',
    ),
    kernel: section(
      'kernel',
      {
        minimum: withDefault(
          string(
            { description: 'Kernel version below which preflight and the kernel phase warn.' },
            { pattern: /^\d+\.\d+$/, patternHint: 'a version like 4.19' },
          ),
          '4.19',
        ),
        upgrade: withDefault(
          boolean({
            description:
              'Upgrade kernels below the minimum (RHEL 7 family: kernel-ml from the repository below), then reboot and wait for the host.',
          }),
          false,
        ),
        repository: withDefault(
          string(
            { description: 'Base URL of an ELRepo-style repository with kernel-ml.' },
            {
              pattern: /^https:\/\/(?![^/]*@)[^\s'"\\`]+$/,
              patternHint: 'an https:// URL without credentials (kernels are installed from it)',
            },
          ),
          'https://elrepo.org/linux/kernel/el7/$basearch/',
        ),
        // a kernel is the last thing to install unverified: yum checks every package against this key
        gpgKey: withDefault(
          string(
            { description: "URL of the signing key the repository's packages are checked against (gpgcheck is always on)." },
            { pattern: /^https:\/\/(?![^/]*@)[^\s'"\\`]+$/, patternHint: 'an https:// URL without credentials' },
          ),
          'https://www.elrepo.org/RPM-GPG-KEY-v2-elrepo.org',
        ),
      },
      { description: 'Kernel version policy.' },
    ),
    requirements: section(
      'requirements',
      {
        controlPlaneCPUs: withDefault(integer({ description: 'Minimum CPUs of a control plane (preflight NumCPU).' }, { min: 1 }), 2),
        controlPlaneMemoryMB: withDefault(
          integer({ description: 'Minimum memory of a control plane in MB (preflight Mem).' }, { min: 1 }),
          1700,
        ),
        workerCPUs: withDefault(integer({ description: 'Minimum CPUs of a worker.' }, { min: 1 }), 1),
        workerMemoryMB: withDefault(integer({ description: 'Minimum memory of a worker in MB.' }, { min: 1 }), 1024),
      },
      { description: 'Resources preflight demands of each host.' },
    ),
  },
  { description: 'Host preparation settings.' },
);

export const inventorySchema = object(
  'inventory',
  {
    apiVersion: string({ description: `Must be ${API_VERSION}.`, example: API_VERSION }),
    kind: string({ description: `Must be ${KIND}.`, example: KIND }),
    hostDefaults,
    hosts: list(host, { description: 'The machines of the cluster.' }, { minItems: 1 }),
    preparation,
    cluster,
  },
  { description: 'A kubestrap inventory: the hosts and how to build the cluster on them.' },
);

export type Inventory = Infer<typeof inventorySchema>;
export type HostSpec = Infer<typeof host>;
export type AuthSpec = Infer<typeof auth>;
export type SudoSpec = Infer<typeof sudo>;
export type BastionSpec = Infer<typeof bastion>;
export type ClusterSpec = Infer<typeof cluster>;
export type HostDefaults = Infer<typeof hostDefaults>;
export type Preparation = Infer<typeof preparation>;
export type Role = (typeof ROLES)[number];
