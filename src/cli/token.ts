import { Command } from 'commander';
import { formatToken, generateToken } from '../pki/bootstrap-token.js';

export function tokenCommand(): Command {
  return new Command('token')
    .description('bootstrap tokens')
    .addCommand(
      new Command('generate')
        .description('print a new random bootstrap token (not registered with any cluster)')
        .addHelpText('after', '\nExample:\n  kubestrap token generate')
        .action(() => console.log(formatToken(generateToken()))),
    );
}
