// @ts-check
// The linter of `npm test` (npm run lint): typescript-eslint's strict rules, with type information
// for the ones that need it (floating promises, misused promises, unsafe values), over the program
// and its tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/golden/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // numbers and booleans read naturally in messages and scripts
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // with noUncheckedIndexedAccess every index is possibly undefined: `!` states what the code
      // above established (a regex that matched, a key just set), and reads better than a branch
      '@typescript-eslint/no-non-null-assertion': 'off',
      // much of what kubestrap reads comes from outside (YAML, JSON, API answers, hosts) and is
      // typed by assertion, not proven: a defensive check on it is no mistake; and tests declare
      // what beforeAll sets as set, then guard afterAll against a beforeAll that failed
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // methods of interfaces that return promises are async whether or not this one awaits
      '@typescript-eslint/require-await': 'off',
      // `const { secret, ...rest } = x` leaves `secret` out on purpose; `_` names what a loop only counts
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, varsIgnorePattern: '^_' }],
    },
  },
  // vitest's asymmetric matchers (expect.stringMatching, expect.any) are typed `any`
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-unsafe-assignment': 'off' } },
  // the unit tests are outside tsconfig.json (vitest compiles them): linted without type information
  { files: ['test/unit/**/*.ts', 'vitest.config.ts', '**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);
