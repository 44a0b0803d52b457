/** Each test file's scratch directories go when the file ends (a setupFile of every vitest project). */
import { afterAll } from 'vitest';
import { removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);
