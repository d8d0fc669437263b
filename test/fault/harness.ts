// What the fault tests share: the real gateway (buildGateway) in front of the
// simulator, and a client that records what it was served. No vitest here:
// the gateway child process (gateway-process.ts) imports it too.
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { request } from "undici";
import type { EventSink } from "../../eventlog/ports.ts";
import { buildGateway } from "../../gateway/app.ts";
import { sha256Hex } from "../../gateway/auth.ts";
import { type GatewayConfig, gatewayConfig } from "../../gateway/config.ts";
import { PriceCatalog } from "../../gateway/pricing.ts";
import { type RunningSimulator, startSimulator } from "../../simulator/index.ts";

export const API_KEY = "sk-fault-test";

/** A tenant of its own per test, so events other tests leave on a shared broker never count. */
export function newTenant(): string {
  return `fault-${randomUUID().slice(0, 8)}`;
}

/**
 * Two simulated vendors. The `fast` route tries alpha first, which fails one
 * request in five with a 500, then beta: so the ledger has failovers
 * (attempt_failed events) as well as completions.
 */
export async function startVendors(): Promise<{
  vendors: { id: string; url: string }[];
  close(): Promise<void>;
}> {
  const alpha = await startSimulator({
    models: [{ id: "sim-small" }],
    faults: { serverError: 0.2 },
  });
  const beta = await startSimulator({ models: [{ id: "sim-small" }] });
  const simulators: RunningSimulator[] = [alpha, beta];
  return {
    vendors: [
      { id: "alpha", url: alpha.url },
      { id: "beta", url: beta.url },
    ],
    close: async () => {
      await Promise.all(simulators.map((simulator) => simulator.close()));
    },
  };
}

export function faultGatewayConfig(
  tenant: string,
  vendors: { id: string; url: string }[],
): GatewayConfig {
  return gatewayConfig.parse({
    port: 0,
    price_catalog: "unused: the catalog is built in code",
    api_keys: [{ id: "fault", tenant, sha256: sha256Hex(API_KEY) }],
    vendors: vendors.map((vendor) => ({
      id: vendor.id,
      protocol: "openai",
      base_url: `${vendor.url}/v1`,
      api_key: "simulator",
    })),
    routes: [
      {
        model: "fast",
        fallback: vendors.map((vendor) => ({ vendor: vendor.id, model: "sim-small" })),
      },
    ],
  });
}

export const FAULT_PRICES = new PriceCatalog({
  version: "fault-1",
  currency: "USD",
  unit: "per_million_tokens",
  prices: [
    { vendor: "alpha", model: "sim-small", input: "0.15", cached_input: "0.075", output: "0.60" },
    { vendor: "beta", model: "sim-small", input: "0.1", output: "0.4" },
  ],
});

/** The real gateway on a port, writing to `sink`. */
export async function startFaultGateway(options: {
  tenant: string;
  vendors: { id: string; url: string }[];
  sink: EventSink;
  logger: Logger;
  metrics?: Registry;
}): Promise<{ url: string; app: FastifyInstance }> {
  const app = buildGateway({
    config: faultGatewayConfig(options.tenant, options.vendors),
    prices: FAULT_PRICES,
    sink: options.sink,
    logger: options.logger,
    metrics: options.metrics,
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return { url, app };
}

/** What the client was served: enough to know which events the gateway owes the ledger. */
export interface Served {
  requestId: string;
  attempts: number;
  costUsd: string;
  milliseconds: number;
}

/** One non-streamed completion through the gateway; throws unless it answers 200. */
export async function sendCompletion(gatewayUrl: string, index: number): Promise<Served> {
  const startedAt = performance.now();
  const response = await request(`${gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "fast",
      messages: [
        { role: "user", content: `Fault test request ${index}: ${"words ".repeat(index % 13)}` },
      ],
    }),
  });
  const body = await response.body.text();
  if (response.statusCode !== 200) {
    throw new Error(`request ${index} answered ${response.statusCode}: ${body.slice(0, 300)}`);
  }
  const header = (name: string) => {
    const value = response.headers[name];
    if (typeof value !== "string") throw new Error(`request ${index}: no ${name} header`);
    return value;
  };
  return {
    requestId: header("x-request-id"),
    attempts: Number(header("x-switchboard-attempts")),
    costUsd: header("x-switchboard-cost-usd"),
    milliseconds: performance.now() - startedAt,
  };
}

/** Sends `count` completions, `concurrency` at a time, and returns what each was served. */
export async function sendCompletions(
  gatewayUrl: string,
  count: number,
  options: { concurrency?: number; firstIndex?: number } = {},
): Promise<Served[]> {
  const served: Served[] = [];
  let next = options.firstIndex ?? 0;
  const end = next + count;
  const worker = async () => {
    while (next < end) {
      const index = next;
      next += 1;
      served.push(await sendCompletion(gatewayUrl, index));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return served;
}

/**
 * A steady load until stopped: `clients` callers, each sending one completion
 * after another with a pause between. `served` grows as answers arrive, so a
 * test can slice what was served during a fault.
 */
export function startSteadyLoad(
  gatewayUrl: string,
  options: { clients: number; pauseMilliseconds: number },
): { served: Served[]; stop(): Promise<void> } {
  const served: Served[] = [];
  let index = 0;
  let sending = true;
  const clients = Array.from({ length: options.clients }, async () => {
    while (sending) {
      served.push(await sendCompletion(gatewayUrl, index++));
      await new Promise((resolve) => setTimeout(resolve, options.pauseMilliseconds));
    }
  });
  return {
    served,
    async stop() {
      sending = false;
      await Promise.all(clients);
    },
  };
}
