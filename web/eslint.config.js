// The console's linter (`npm run lint`, run by scripts/test): ESLint's and
// typescript-eslint's recommended rules, and React's hooks rules (including
// the React Compiler checks of eslint-plugin-react-hooks 7), warnings fail.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  // Built output, and the file scripts/gen-types writes.
  globalIgnores(["dist/", "src/api.gen.ts"]),
  {
    files: ["src/**/*.{ts,tsx}", "vite.config.ts"],
    extends: [js.configs.recommended, tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ["**/*.{js,mjs}"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  // The e2e tests hand functions to Playwright that run inside the page.
  { files: ["e2e/**"], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
]);
