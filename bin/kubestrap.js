#!/usr/bin/env node
// Thin entry: the program lives in src/ (compiled to dist/ by `npm ci` / `npm run build`).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv);
