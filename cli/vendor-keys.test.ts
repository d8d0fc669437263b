import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { refuseUnsetVendorKeys, unsetVendorKeys } from "./vendor-keys.ts";

const VENDORS = [
  { id: "openai", api_key_env: "OPENAI_API_KEY" },
  { id: "anthropic", api_key_env: "ANTHROPIC_API_KEY" },
  { id: "sim", api_key_env: undefined }, // inline key or none: needs no variable
];

describe("vendor key variables", () => {
  it("lists the vendors whose variable is unset or empty, and only those", () => {
    expect(unsetVendorKeys(VENDORS, { OPENAI_API_KEY: "sk-set", ANTHROPIC_API_KEY: "" })).toEqual([
      { vendor: "anthropic", variable: "ANTHROPIC_API_KEY" },
    ]);
    expect(unsetVendorKeys(VENDORS, { OPENAI_API_KEY: "a", ANTHROPIC_API_KEY: "b" })).toEqual([]);
  });

  it("refuses to start naming every variable and its vendor", () => {
    expect(() => refuseUnsetVendorKeys(VENDORS, {})).toThrow(
      [
        "refusing to start: a vendor's key is missing from the environment",
        "  gateway.vendors[openai].api_key_env: OPENAI_API_KEY is not set (or empty); every request to openai would fail with 401",
        "  gateway.vendors[anthropic].api_key_env: ANTHROPIC_API_KEY is not set (or empty); every request to anthropic would fail with 401",
        "Set OPENAI_API_KEY, ANTHROPIC_API_KEY (e.g. export OPENAI_API_KEY=…), or remove the vendor from gateway.vendors.",
      ].join("\n"),
    );
    expect(() => refuseUnsetVendorKeys(VENDORS.slice(2), {})).not.toThrow();
  });
});

describe("switchboard gateway with a vendor key variable unset", () => {
  const directory = mkdtempSync(join(tmpdir(), "switchboard-vendor-keys-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it("exits 1 before listening, naming the variable", () => {
    const config = join(directory, "switchboard.yaml");
    writeFileSync(
      config,
      [
        `data_dir: ${join(directory, "data")}`,
        "gateway:",
        "  port: 0",
        `  api_keys: [{ id: k, tenant: t, sha256: '${"0".repeat(64)}' }]`,
        `  price_catalog: ${join(process.cwd(), "config/prices.yaml")}`,
        "  vendors:",
        "    - { id: openai, protocol: openai, api_key_env: SWITCHBOARD_TEST_UNSET_KEY }",
        "  routes:",
        "    - { model: fast, fallback: [{ vendor: openai, model: gpt-4o-mini }] }",
      ].join("\n"),
    );
    const environment: NodeJS.ProcessEnv = { ...process.env, SWITCHBOARD_CONFIG: config };
    delete environment.SWITCHBOARD_TEST_UNSET_KEY;
    const run = spawnSync(process.execPath, ["bin/switchboard.js", "gateway"], {
      env: environment,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.stderr).toContain(
      "gateway.vendors[openai].api_key_env: SWITCHBOARD_TEST_UNSET_KEY is not set",
    );
    expect(run.stdout).not.toContain("gateway listening");
    expect(run.status).toBe(1);
  });
});
