/** `npm run docs`: regenerates inventories/schema.json and the README's field reference. */
import { readFileSync, writeFileSync } from 'node:fs';
import { inventoryJsonSchema, withReference } from './reference.js';
import { withReleasesTable } from '../util/releases-doc.js';

writeFileSync('inventories/schema.json', `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`);
writeFileSync('README.md', withReleasesTable(withReference(readFileSync('README.md', 'utf8'))));
console.log('wrote inventories/schema.json, the README inventory reference and its releases table');
