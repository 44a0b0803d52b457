/**
 * `kubestrap token`: bootstrap tokens of a running cluster, kubeadm's subcommands and output,
 * from the workstation (--inventory) or on a control-plane node (its admin.conf).
 */
import { Command } from 'commander';
import { tokenSecret } from '../kube/bootstrap-objects.js';
import { deleteToken, formatTokenTable, listTokens } from '../kube/tokens.js';
import { joinCommand } from '../join/join-command.js';
import {
  DEFAULT_TOKEN_GROUPS,
  formatToken,
  generateToken,
  parseToken,
  validateExtraGroup,
  type BootstrapToken,
  type TokenUsage,
} from '../pki/bootstrap-token.js';
import { validateCertificateKey } from '../pki/certificate-key.js';
import { durationSeconds } from '../util/duration.js';
import { addClusterAccessOptions, withControlPlane, type ClusterAccessOptions } from './cluster-access.js';
import { UsageError } from './errors.js';
import { commaList } from '../util/comma-list.js';

const USAGES: readonly TokenUsage[] = ['signing', 'authentication'];
const TOKEN_ID = /^[a-z0-9]{6}$/;

/** A bootstrap token is a short-lived credential; a year is already generous. */
const MAX_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

interface CreateOptions extends ClusterAccessOptions {
  ttl: string;
  description?: string;
  usages: string;
  groups: string;
  printJoinCommand?: boolean;
  certificateKey?: string;
}

interface CreateRequest {
  readonly token: BootstrapToken;
  readonly ttlSeconds: number;
  readonly usages: TokenUsage[];
  readonly groups: string[];
}

/** Every flag checked before the cluster is contacted; messages never repeat a token. */
function createRequest(tokenArg: string | undefined, options: CreateOptions): CreateRequest {
  const problems: string[] = [];
  let token = generateToken();
  if (tokenArg !== undefined) {
    try {
      token = parseToken(tokenArg);
    } catch (err) {
      problems.push(`[token]: ${(err as Error).message}`);
    }
  }
  const ttlSeconds = durationSeconds(options.ttl);
  if (Number.isNaN(ttlSeconds))
    problems.push(`--ttl ${JSON.stringify(options.ttl)}: expected a duration like 24h, 1h30m, 90s, or 0 for a token that never expires`);
  // checked before the cluster is contacted: a date past year 9999 cannot be written into the token
  else if (ttlSeconds > MAX_TOKEN_TTL_SECONDS)
    problems.push(`--ttl ${options.ttl}: at most ${MAX_TOKEN_TTL_SECONDS / 3600}h (a year); use 0 for a token that never expires`);
  const usages = commaList(options.usages);
  for (const u of usages)
    if (!USAGES.includes(u as TokenUsage)) problems.push(`--usages: unknown usage ${JSON.stringify(u)} (known: ${USAGES.join(', ')})`);
  const groups = commaList(options.groups);
  for (const g of groups) {
    const problem = validateExtraGroup(g);
    if (problem) problems.push(`--groups: ${problem}`);
  }
  if (groups.length && !usages.includes('authentication'))
    problems.push('--groups needs the authentication usage: extra groups only apply when the token authenticates');
  if (options.certificateKey !== undefined) {
    if (!options.printJoinCommand) problems.push('--certificate-key only goes into the printed join command: add --print-join-command');
    const problem = validateCertificateKey(options.certificateKey);
    if (problem) problems.push(`--certificate-key: ${problem}`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'));
  return { token, ttlSeconds, usages: usages as TokenUsage[], groups };
}

/** The token ids named by `token delete` (an id or a whole token), checked before any delete. */
function tokenIds(args: readonly string[]): string[] {
  return args.map((arg) => {
    if (TOKEN_ID.test(arg)) return arg;
    try {
      return parseToken(arg).id;
    } catch {
      // the argument may be a mistyped token: never echo it
      throw new UsageError(
        `token delete: argument ${args.indexOf(arg) + 1} is neither a token id ([a-z0-9]{6}) nor a token ([a-z0-9]{6}.[a-z0-9]{16})`,
      );
    }
  });
}

export function tokenCommand(): Command {
  const create = addClusterAccessOptions(
    new Command('create')
      .description('create a bootstrap token in the cluster and print it (or the join command that uses it)')
      .argument('[token]', 'the token to create (default: a new random one)')
      .option('--ttl <duration>', 'lifetime (e.g. 2h, 30m; 0 = never expires)', '24h')
      .option('--description <text>', 'why this token exists (shown by token list)')
      .option('--usages <list>', 'comma-separated: signing (discovery), authentication (TLS bootstrap)', USAGES.join(','))
      .option('--groups <list>', 'extra groups the token authenticates as', DEFAULT_TOKEN_GROUPS.join(','))
      .option('--print-join-command', 'print the whole `kubestrap join` command, not just the token')
      .option(
        '--certificate-key <hex>',
        'with --print-join-command: print the control-plane join command with this key (from `kubestrap token upload-certs`)',
      ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  kubestrap token create --print-join-command -i cluster.yaml\n  kubestrap token create --ttl 2h --description "rack 7"       # on a control-plane node',
    )
    .action(async (tokenArg: string | undefined, options: CreateOptions) => {
      const request = createRequest(tokenArg, options);
      await withControlPlane('token-create', options, async ({ api, server, caCertPem }) => {
        await api.apply(
          tokenSecret(request.token, {
            ...(options.description ? { description: options.description } : {}),
            ttlSeconds: request.ttlSeconds,
            usages: request.usages,
            groups: request.groups,
            now: new Date(),
          }),
        );
        if (!options.printJoinCommand) {
          console.log(formatToken(request.token));
          return;
        }
        console.log(
          joinCommand({
            program: 'kubestrap',
            server,
            token: request.token,
            caCertPem,
            ...(options.certificateKey ? { certificateKey: options.certificateKey } : {}),
          }),
        );
      });
    });

  const listCmd = addClusterAccessOptions(new Command('list').description("list the cluster's bootstrap tokens (kubeadm's columns)"))
    .addHelpText('after', '\nExample:\n  kubestrap token list -i cluster.yaml')
    .action(async (options: ClusterAccessOptions) => {
      await withControlPlane('token-list', options, async ({ api }) => {
        const { tokens, problems } = await listTokens(api);
        for (const p of problems) console.error(p);
        process.stdout.write(formatTokenTable(tokens, new Date()));
      });
    });

  const deleteCmd = addClusterAccessOptions(
    new Command('delete').description('delete bootstrap tokens (by id or whole token)').argument('<token-ids...>'),
  )
    .addHelpText('after', '\nExample:\n  kubestrap token delete abcdef -i cluster.yaml')
    .action(async (args: string[], options: ClusterAccessOptions) => {
      const ids = tokenIds(args);
      await withControlPlane('token-delete', options, async ({ api }) => {
        for (const id of ids) {
          if (!(await deleteToken(api, id))) throw new Error(`bootstrap token "${id}" does not exist in the cluster`);
          console.log(`bootstrap token "${id}" deleted`);
        }
      });
    });

  return new Command('token')
    .description('bootstrap tokens: create, list, delete (in the cluster), generate (offline)')
    .addCommand(create)
    .addCommand(listCmd)
    .addCommand(deleteCmd)
    .addCommand(
      new Command('generate')
        .description('print a new random bootstrap token (not registered with any cluster)')
        .addHelpText('after', '\nExample:\n  kubestrap token generate')
        .action(() => {
          console.log(formatToken(generateToken()));
        }),
    );
}
