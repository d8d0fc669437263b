// Demo credentials are published in the README: start-up refuses them on an
// address others can reach, unless told otherwise, and every listener logs
// the address it is really bound to (not fastify's loopback URL for 0.0.0.0).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_ANALYTICS_TOKEN } from "../analytics/access.ts";
import { SecretRedactor } from "../eventlog/secret-redactor.ts";
import { sha256Hex } from "../gateway/auth.ts";
import { loadConfig } from "./config.ts";
import {
  credentialedListeners,
  DemoCredentialsExposedError,
  isLoopbackAddress,
  isLoopbackHost,
  refuseDemoCredentialsOnPublicAddress,
} from "./public-address.ts";
import { metricsRegistry, startGateway } from "./roles.ts";

const DEMO_CONFIG = "config/switchboard.yaml";
/** A key of the operator's own, not the published demo one. */
const OWN_KEY = {
  id: "prod",
  tenant: "acme",
  sha256: sha256Hex("sk-our-own-key"),
  tags: [],
  store_prompt_hash: false,
};

function capturingLogger(): { logger: pino.Logger; lines: () => string } {
  let text = "";
  const logger = pino({ level: "info" }, { write: (line: string) => (text += line) });
  return { logger, lines: () => text };
}

const dataDirectories: string[] = [];
function dataDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), "switchboard-public-"));
  dataDirectories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of dataDirectories) rmSync(directory, { recursive: true, force: true });
});

describe("loopback addresses", () => {
  it("are 127.0.0.0/8, ::1 and IPv4 loopback written as IPv6; nothing else", () => {
    for (const address of ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"]) {
      expect(isLoopbackAddress(address), address).toBe(true);
    }
    for (const address of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "192.168.1.20",
      "::ffff:10.0.0.1",
      "nope",
    ]) {
      expect(isLoopbackAddress(address), address).toBe(false);
    }
  });

  it("count a name as loopback only when every address it resolves to is one; failing closed", async () => {
    const resolving = (addresses: string[]) => async () =>
      addresses.map((address) => ({ address }));
    expect(await isLoopbackHost("localhost", resolving(["127.0.0.1", "::1"]))).toBe(true);
    expect(await isLoopbackHost("box", resolving(["127.0.0.1", "192.168.1.20"]))).toBe(false);
    expect(await isLoopbackHost("box", resolving([]))).toBe(false);
    expect(
      await isLoopbackHost("unknown", async () => {
        throw new Error("ENOTFOUND");
      }),
    ).toBe(false);
    expect(await isLoopbackHost("")).toBe(false);
    expect(await isLoopbackHost("0.0.0.0")).toBe(false);
  });
});

describe("demo credentials on a public address", () => {
  it("are found in the demo config: the gateway's two demo keys and the analytics demo token", () => {
    const listeners = credentialedListeners(loadConfig(DEMO_CONFIG, {}), "all");
    expect(listeners.map((listener) => listener.hostSetting)).toEqual([
      "gateway.host",
      "analytics.host",
    ]);
    expect(listeners[0]?.demoCredentials).toEqual([
      "gateway.api_keys[demo] (sk-switchboard-demo)",
      "gateway.api_keys[demo-search] (sk-switchboard-demo-search)",
    ]);
    expect(listeners[1]?.demoCredentials).toEqual([
      `analytics.tokens[demo-admin] (${DEMO_ANALYTICS_TOKEN})`,
    ]);
    expect(credentialedListeners(loadConfig(DEMO_CONFIG, {}), "ingest")).toEqual([]);
  });

  it("stop start-up on 0.0.0.0, naming the setting, the credential and the way out", async () => {
    const config = loadConfig(DEMO_CONFIG, { GATEWAY_HOST: "0.0.0.0", ANALYTICS_HOST: "::" });
    const { logger } = capturingLogger();
    for (const role of ["gateway", "analytics", "all"]) {
      const refused = refuseDemoCredentialsOnPublicAddress(credentialedListeners(config, role), {
        allowPublicDemoCredentials: false,
        logger,
      });
      await expect(refused).rejects.toThrow(DemoCredentialsExposedError);
      await expect(refused).rejects.toThrow(/allow_public_demo_credentials: true/);
    }
    await expect(
      refuseDemoCredentialsOnPublicAddress(credentialedListeners(config, "gateway"), {
        allowPublicDemoCredentials: false,
        logger,
      }),
    ).rejects.toThrow(/gateway\.host is "0\.0\.0\.0".*gateway\.api_keys\[demo\]/);
  });

  it("start with the override, warning loudly", async () => {
    const config = loadConfig(DEMO_CONFIG, {
      GATEWAY_HOST: "0.0.0.0",
      SWITCHBOARD_ALLOW_PUBLIC_DEMO_CREDENTIALS: "true",
    });
    expect(config.allow_public_demo_credentials).toBe(true);
    const { logger, lines } = capturingLogger();
    await refuseDemoCredentialsOnPublicAddress(credentialedListeners(config, "gateway"), {
      allowPublicDemoCredentials: config.allow_public_demo_credentials,
      logger,
    });
    expect(lines()).toMatch(/"level":40.*DEMO CREDENTIALS ON A PUBLIC ADDRESS: gateway\.host/);
  });

  it("take an override only as true or false", () => {
    expect(() =>
      loadConfig(DEMO_CONFIG, { SWITCHBOARD_ALLOW_PUBLIC_DEMO_CREDENTIALS: "yes" }),
    ).toThrow(/allow_public_demo_credentials/);
  });

  it("are no concern on loopback, and other credentials are none on 0.0.0.0", async () => {
    const { logger, lines } = capturingLogger();
    const onLoopback = loadConfig(DEMO_CONFIG, {});
    await refuseDemoCredentialsOnPublicAddress(credentialedListeners(onLoopback, "all"), {
      allowPublicDemoCredentials: false,
      logger,
    });
    const ownKeys = loadConfig(DEMO_CONFIG, { GATEWAY_HOST: "0.0.0.0" });
    ownKeys.gateway.api_keys = [OWN_KEY];
    await refuseDemoCredentialsOnPublicAddress(credentialedListeners(ownKeys, "gateway"), {
      allowPublicDemoCredentials: false,
      logger,
    });
    expect(lines()).toBe("");
  });
});

describe("the address a listener logs", () => {
  it("is the one it is bound to: 0.0.0.0, every interface, not fastify's 127.0.0.1", async () => {
    const config = loadConfig(DEMO_CONFIG, {
      GATEWAY_HOST: "0.0.0.0",
      GATEWAY_PORT: "0",
      SWITCHBOARD_DATA_DIR: dataDirectory(),
    });
    config.gateway.vendors = [
      {
        id: "nowhere",
        protocol: "openai",
        base_url: "http://127.0.0.1:9/v1",
        first_byte_timeout_ms: 1_000,
        total_timeout_ms: 1_000,
        max_connections: 1,
      },
    ] as typeof config.gateway.vendors;
    config.gateway.api_keys = [OWN_KEY];
    const { logger, lines } = capturingLogger();
    const gateway = await startGateway(
      config,
      config.gateway,
      logger,
      metricsRegistry(),
      SecretRedactor.none,
    );
    try {
      const port = new URL(gateway.url).port;
      expect(lines()).toContain(`gateway listening on 0.0.0.0:${port} (every interface)`);
    } finally {
      await gateway.stop();
    }
  });
});

describe("switchboard gateway on 0.0.0.0 with the demo config", () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });

  function run(environment: Record<string, string>): {
    process: ChildProcess;
    output: () => string;
  } {
    let output = "";
    const started = spawn(process.execPath, ["bin/switchboard.js", "gateway"], {
      env: {
        ...process.env,
        SWITCHBOARD_CONFIG: DEMO_CONFIG,
        SWITCHBOARD_DATA_DIR: dataDirectory(),
        GATEWAY_HOST: "0.0.0.0",
        GATEWAY_PORT: "0",
        SIMULATOR_PORT: "0",
        KAFKA_BROKERS: "",
        CLICKHOUSE_URL: "",
        ...environment,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.stdout?.on("data", (chunk) => (output += chunk));
    started.stderr?.on("data", (chunk) => (output += chunk));
    return { process: started, output: () => output };
  }

  it("refuses to start, and never listens", async () => {
    const refused = run({});
    const code = await new Promise((resolve) => refused.process.once("exit", resolve));
    expect(code).toBe(1);
    expect(refused.output()).toContain('refusing to start: gateway.host is "0.0.0.0"');
    expect(refused.output()).not.toContain("listening");
  }, 30_000);

  it("starts with the override, warning, and logs the real address", async () => {
    const allowed = run({ SWITCHBOARD_ALLOW_PUBLIC_DEMO_CREDENTIALS: "true" });
    child = allowed.process;
    const deadline = Date.now() + 25_000;
    while (!allowed.output().includes("gateway listening")) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`switchboard gateway did not start:\n${allowed.output()}`);
      }
      await sleep(50);
    }
    expect(allowed.output()).toContain("DEMO CREDENTIALS ON A PUBLIC ADDRESS");
    expect(allowed.output()).toMatch(/gateway listening on 0\.0\.0\.0:\d+ \(every interface\)/);
  }, 30_000);
});
