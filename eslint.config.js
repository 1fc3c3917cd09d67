// Lint TypeScript sources with the recommended rules; generated and built files are ignored.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layering of DESIGN.md §2, as lint errors: imports go down, never up. `lib/` and `api/` are the
 * ground floor; `manager/`, `worker/`, `ingress/` and `dns/` stand on them; only `daemon/` enters
 * `manager/`, through `manager/index.ts` (and `daemon/control-plane/`, the in-process composition of
 * manager and worker for a test and a benchmark, also through `manager/testing.ts`); no other file
 * imports from `manager/`, tests and benchmarks included: those that need its internals live beside
 * them (`*.test.ts`, `*.bench.ts`). `cli/` and `deploy/` do not import each other.
 * test/architecture.test.ts shows that a breaking import fails the lint.
 */
const layer = (name) =>
  typeof name === 'string'
    ? { group: [`**/${name}/**`], message: 'imports go down: see eslint.config.js (DESIGN §2)' }
    : name;
const MANAGER_INTERNALS = {
  group: ['**/manager/**', '!**/manager/index.js'],
  message: 'manager/ is entered only through manager/index.ts (DESIGN §2)',
};
const MANAGER_INTERNALS_BUT_TESTING = {
  group: ['**/manager/**', '!**/manager/index.js', '!**/manager/testing.js'],
  message: 'manager/ is entered only through manager/index.ts, and manager/testing.ts (DESIGN §2)',
};
const forbid = (files, ...names) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: names.map(layer) }] },
});
// Later entries replace earlier ones for the files they match, so the first one covers every file no
// other entry names (a new top-level folder included): none of them imports from manager/.
const architecture = [
  { ...forbid(['**/*.ts'], 'manager'), ignores: ['manager/**', 'daemon/**'] },
  forbid(
    ['lib/**/*.ts'],
    'api',
    'manager',
    'worker',
    'ingress',
    'dns',
    'cli',
    'daemon',
    'deploy',
    'test',
    'bench',
  ),
  forbid(['api/**/*.ts'], 'manager', 'worker', 'ingress', 'dns', 'cli', 'daemon', 'deploy', 'test', 'bench'),
  forbid(['worker/**/*.ts', 'ingress/**/*.ts', 'dns/**/*.ts'], 'manager', 'cli', 'daemon', 'deploy', 'bench'),
  forbid(['manager/**/*.ts'], 'worker', 'ingress', 'dns', 'cli', 'daemon', 'deploy', 'bench'),
  forbid(['cli/**/*.ts'], 'manager', 'deploy'),
  forbid(['deploy/**/*.ts'], 'manager', 'cli'),
  forbid(['daemon/**/*.ts'], MANAGER_INTERNALS, 'cli', 'deploy'),
  forbid(['daemon/control-plane/**/*.ts'], MANAGER_INTERNALS_BUT_TESTING, 'cli', 'deploy'),
  forbid(['test/**/*.ts', 'bench/**/*.ts'], 'manager'),
];

export default tseslint.config(
  { ignores: ['dist*/**', 'node_modules/**', 'api/gen/**', 'manager/raft/kv/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...architecture,
);
