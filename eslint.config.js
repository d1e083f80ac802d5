// @ts-check
/**
 * ESLint for the whole workspace (`pnpm lint` = `eslint .` at the root).
 *
 * The recommended rules of ESLint and typescript-eslint, not the type-checked
 * presets: lint stays fast, and `pnpm typecheck` is where types are checked.
 * The rules below are tuned so that what is reported is worth reading.
 */
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** The few Node globals that plain .js files here use (TypeScript knows them for .ts). */
const nodeGlobals = Object.fromEntries(
  ['process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'].map(
    (name) => [name, /** @type {const} */ ('readonly')],
  ),
);

export default defineConfig(
  globalIgnores(['**/dist/', '**/node_modules/', '.data/', '.prof/', '**/coverage/', '**/test-artifacts/', '**/vendor/']),

  js.configs.recommended,
  tseslint.configs.recommended,

  {
    rules: {
      // `_` marks a parameter or binding that is there on purpose (a callback's
      // signature, a destructured field left out).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // `catch {}` or `() => {}` on purpose (an error reported elsewhere, an
      // 'error' listener that only keeps Node from throwing) is fine.
      'no-empty': ['error', { allowEmptyCatch: true }],
      '@typescript-eslint/no-empty-function': 'off',
      // `!` after a lookup the code has just checked is the usual idiom with
      // noUncheckedIndexedAccess.
      '@typescript-eslint/no-non-null-assertion': 'off',
      'prefer-const': ['error', { destructuring: 'all' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'warn',
    },
  },

  {
    // Command-line tools and tests write to the terminal on purpose; the apps
    // log through pino.
    files: ['scripts/**', '**/test/**', '**/*.test.ts', 'apps/feed/**', '*.config.{js,ts}'],
    rules: { 'no-console': 'off' },
  },

  {
    // Terminal code matches ANSI escape sequences (\x1b[...) on purpose.
    files: ['scripts/**', 'apps/feed/**'],
    rules: { 'no-control-regex': 'off' },
  },

  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: nodeGlobals },
  },

  {
    // The dashboard's browser modules: checked by tsc (`// @ts-check` and
    // public/tsconfig.json, which knows the DOM), so no-undef would only need
    // a copy of the browser's globals.
    files: ['apps/*/public/**/*.js'],
    rules: { 'no-undef': 'off', 'no-console': 'off' },
  },
);
