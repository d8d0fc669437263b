import { defineConfig } from "vitest/config";

// chDB binds one data directory per process and segfaults under worker threads,
// so every test file runs in its own forked process.
export default defineConfig({
  test: {
    pool: "forks",
    include: ["**/*.test.ts"],
    exclude: ["**/node_modules/**", "data/**"],
    // Starts the real Kafka broker once per run. UNIT_ONLY=1 leaves it out for a
    // quick local run of unit tests; a Kafka test then fails, it never skips.
    globalSetup: process.env.UNIT_ONLY === "1" ? [] : ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
