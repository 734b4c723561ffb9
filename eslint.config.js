// ESLint: typescript-eslint's strict, type-checked rules over every TypeScript file (src, workers, bench,
// test, models/train). `npm run lint` runs it and Prettier's check; `npm test` runs lint first.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'models/train/.work/**', 'bench/results/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Numbers and booleans read fine in messages; objects and nullish values are still refused.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => void promise` and `(x) => set.add(x)` are how callbacks that return nothing are written here.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // With noUncheckedIndexedAccess, `a[i]!` after a bounds check is how the code states a checked index.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Memory drivers implement async ports without awaiting anything: `async` keeps a throw a rejection,
      // which is the contract every driver shares.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
