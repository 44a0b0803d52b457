/** `npm run docs`: regenerates inventories/schema.json, the field reference of docs/inventory.md and the README's releases table. */
import { readFileSync, writeFileSync } from 'node:fs';
import { inventoryJsonSchema, withReference } from './reference.js';
import { withReleasesTable } from './releases-doc.js';

writeFileSync('inventories/schema.json', `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`);
writeFileSync('docs/inventory.md', withReference(readFileSync('docs/inventory.md', 'utf8')));
writeFileSync('README.md', withReleasesTable(readFileSync('README.md', 'utf8')));
console.log('wrote inventories/schema.json, the inventory reference in docs/inventory.md and the README releases table');
