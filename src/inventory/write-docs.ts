/** `npm run docs`: regenerates inventories/schema.json and the README's field reference. */
import { readFileSync, writeFileSync } from 'node:fs';
import { inventoryJsonSchema, withReference } from './reference.js';

writeFileSync('inventories/schema.json', `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`);
writeFileSync('README.md', withReference(readFileSync('README.md', 'utf8')));
console.log('wrote inventories/schema.json and the README inventory reference');
