import { defineConfig } from "vitest/config";

// chDB binds one data directory per process and segfaults under worker threads,
// so every test file runs in its own forked process (see ../shared/CHDB-NOTES.md).
export default defineConfig({
  test: {
    pool: "forks",
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "data/**"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
