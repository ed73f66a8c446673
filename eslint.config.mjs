// ESLint (flat config; `next lint` is gone in Next 16). `npm run lint`; `npm test` runs it after the typecheck.
// Besides the usual React, Next and TypeScript rules, it holds the house rules a reader should not have
// to police by hand (../shared/CONVENTIONS.md): one reader of process.env, imports flowing
// app → components → lib, Prisma only in lib/, no console logging in product code.
import js from "@eslint/js";
import nextPlugin from "@next/eslint-plugin-next";
import jsxA11y from "eslint-plugin-jsx-a11y";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

const PRODUCT = ["app/**/*.{ts,tsx}", "components/**/*.{ts,tsx}", "lib/**/*.{ts,tsx}", "proxy.ts", "instrumentation.ts"];
const TESTS = ["**/*.test.{ts,tsx}", "test/**", "e2e/**", "bench/**", "scripts/**"];

export default tseslint.config(
  { ignores: [".next/**", ".data/**", "node_modules/**", "lib/generated/**", "e2e/.output/**", "playwright-report/**", "test-results/**", "next-env.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Control characters in patterns are deliberate here: inputs, headers and names are checked for them.
      "no-control-regex": "off",
    },
  },
  {
    files: ["**/*.{ts,tsx,mts}"],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ["vitest.config.mts", "lib/server/log-line.d.mts"] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A promise nobody awaits loses its failure (an unhandled rejection) and its ordering.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { attributes: false } }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
    },
  },
  {
    files: ["**/*.{js,mjs,cjs}"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    files: ["**/*.cjs"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Tests read loosely typed JSON from emulators and targets.
    files: TESTS,
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    // Playwright fixtures that use no other fixture are written `async ({}, use) => …`.
    files: ["e2e/**"],
    rules: { "no-empty-pattern": "off" },
  },
  {
    files: ["app/**/*.{ts,tsx}", "components/**/*.{ts,tsx}"],
    plugins: { "@next/next": nextPlugin, "react-hooks": reactHooks, "jsx-a11y": jsxA11y },
    rules: {
      ...nextPlugin.configs.recommended.rules,
      ...nextPlugin.configs["core-web-vitals"].rules,
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "error",
      ...jsxA11y.flatConfigs.recommended.rules,
      // A dialog or form opened to type one thing puts the caret there, as people expect.
      "jsx-a11y/no-autofocus": "off",
    },
  },
  {
    files: PRODUCT,
    ignores: [...TESTS, "lib/env.ts"],
    rules: {
      "no-restricted-properties": ["error", { object: "process", property: "env", message: "Read configuration through env() in lib/env.ts, the only reader of process.env." }],
      "no-console": "error",
    },
  },
  {
    files: ["lib/**/*.{ts,tsx}"],
    ignores: TESTS,
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["@/app/*", "@/components/*"], message: "lib/ never imports app/ or components/: imports flow app → components → lib." }] }],
    },
  },
  {
    files: ["app/**/*.{ts,tsx}", "components/**/*.{ts,tsx}"],
    ignores: TESTS,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "@prisma/client", message: "Only lib/ touches Prisma." }],
          patterns: [
            { group: ["@/lib/db", "@/lib/db/*", "@/lib/generated/*"], message: "Only lib/ touches Prisma: read through lib/<domain>/queries.ts." },
          ],
        },
      ],
    },
  },
  {
    files: ["components/ui/**/*.{ts,tsx}"],
    ignores: TESTS,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { regex: "^@/lib/(?!utils$)", message: "components/ui holds primitives only: no domain modules." },
            { regex: "^@/components/(?!ui/)", message: "components/ui holds primitives only: no feature components." },
          ],
        },
      ],
    },
  },
);
