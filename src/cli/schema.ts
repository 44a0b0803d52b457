import { Command } from 'commander';
import { inventoryJsonSchema } from '../inventory/reference.js';

export function schemaCommand(): Command {
  return new Command('schema')
    .description('print the JSON Schema of the inventory format (for editor completion)')
    .addHelpText('after', '\nExample:\n  kubestrap schema > kubestrap.schema.json')
    .action(() => {
      console.log(JSON.stringify(inventoryJsonSchema(), null, 2));
    });
}
