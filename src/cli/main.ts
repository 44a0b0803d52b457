/** The command-line program: wires the commands and turns errors into messages and exit codes. */
import { KUBESTRAP_VERSION } from '../util/product.js';
import { Command, CommanderError } from 'commander';
import { InventoryError } from '../inventory/issues.js';
import { CredentialError } from '../transport/credentials.js';
import { PhaseSelectionError } from '../workflow/runner.js';
import { adoptCommand } from './adopt.js';
import { applyCommand } from './apply.js';
import { bundleCommand } from './bundle.js';
import { certsCommand } from './certs.js';
import { completeCommand, completionCommand } from './completion.js';
import { BundleError } from '../airgap/bundle.js';
import { printable } from '../log/redact.js';
import { RegistryError } from '../airgap/registry-client.js';
import { renderCommand } from './render.js';
import { removeNodeCommand } from './remove-node.js';
import { resetCommand } from './reset.js';
import { UsageError } from './errors.js';
import { etcdCommand } from './etcd.js';
import { execCommand } from './exec.js';
import { doctorCommand } from './doctor.js';
import { factsCommand } from './facts.js';
import { initCommand } from './init.js';
import { joinCommand } from './join.js';
import { kubeconfigCommand } from './kubeconfig.js';
import { JoinError } from '../join/discovery.js';
import { planCommand } from './plan.js';
import { schemaCommand } from './schema.js';
import { tokenCommand } from './token.js';
import { upgradeCommand } from './upgrade.js';
import { validateCommand } from './validate.js';

export function program(): Command {
  const root = new Command('kubestrap')
    .description('Bootstrap Kubernetes clusters over SSH from one inventory file: host preparation, PKI, control plane, add-ons, joins.')
    .version(KUBESTRAP_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const cmd of [
    initCommand(),
    validateCommand(),
    planCommand(),
    applyCommand(),
    joinCommand(),
    resetCommand(),
    removeNodeCommand(),
    adoptCommand(),
    kubeconfigCommand(),
    factsCommand(),
    doctorCommand(),
    execCommand(),
    certsCommand(),
    bundleCommand(),
    etcdCommand(),
    tokenCommand(),
    upgradeCommand(),
    schemaCommand(),
    renderCommand(),
    completionCommand(),
  ]) {
    root.addCommand(cmd);
  }
  root.addCommand(
    completeCommand(() => root),
    { hidden: true },
  );
  // errors are turned into exit codes by main(), at every level of subcommand
  const overrideAll = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(overrideAll);
  };
  overrideAll(root);
  return root;
}

/** SIGPIPE's exit status: what git and kubectl end with when the reader of their output went away. */
const CLOSED_PIPE_STATUS = 128 + 13;

/** Output into a closed pipe (`| head -1`, `| grep -q`, a pager quit early) ends the program quietly, not with a stack trace. */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(CLOSED_PIPE_STATUS);
  });
}

/** Errors the user can act on are printed plainly; anything else is a bug and keeps its stack. */
export async function main(argv: readonly string[]): Promise<number> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  try {
    await program().parseAsync([...argv]);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    // enquirer rejects with an empty value on Ctrl-C
    if (err === '' || (err instanceof Error && err.message === '')) {
      console.error('\naborted; nothing was written');
      return 130;
    }
    // messages quote bundles, registries and clusters: printable() keeps their escape sequences off the terminal
    if (
      err instanceof InventoryError ||
      err instanceof CredentialError ||
      err instanceof JoinError ||
      err instanceof BundleError ||
      err instanceof RegistryError
    ) {
      console.error(`error: ${printable(err.message)}`);
      return 1;
    }
    if (err instanceof UsageError || err instanceof PhaseSelectionError) {
      console.error(`error: ${printable(err.message)}`);
      return 2;
    }
    console.error(err instanceof Error ? printable(err.stack ?? err.message) : err);
    return 1;
  }
}
