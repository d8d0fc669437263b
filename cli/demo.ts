import type { Logger } from "pino";
import type { GatewayConfig } from "../gateway/config.ts";
import { type RunningSimulator, startSimulator } from "../simulator/index.ts";
import type { SwitchboardConfig } from "./config.ts";

const DEMO_MODELS = [{ id: "sim-small" }, { id: "sim-large" }];

/**
 * The demo config's gateway keys (config/switchboard.yaml): `demo`, and
 * `demo-search` with team `search` and tags `prod`, `search`. Published in
 * the README, so anyone may use them: start-up refuses them on a non-loopback
 * address (public-address.ts).
 */
export const DEMO_API_KEY = "sk-switchboard-demo";
export const DEMO_TEAM_API_KEY = "sk-switchboard-demo-search";
export const DEMO_API_KEYS = [DEMO_API_KEY, DEMO_TEAM_API_KEY];

/**
 * With no vendor configured, `switchboard all` stands up two simulated vendors
 * so the whole product can be tried at once: sim-alpha (a little flaky, so
 * failovers show) and sim-beta. Routes `fast` and `smart` fall back from
 * alpha to beta. Prices come from config/prices.yaml.
 */
export async function startDemoVendors(
  config: SwitchboardConfig,
  logger: Logger,
): Promise<{ gateway: GatewayConfig; simulators: RunningSimulator[] }> {
  const latency = { firstByteMs: { median: 120, p95: 400 }, interTokenMs: 8 };
  const alpha = await startSimulator({
    host: config.simulator.host,
    port: config.simulator.port,
    models: DEMO_MODELS,
    latency,
    faults: { serverError: 0.04, rateLimited: 0.03 },
  });
  const beta = await startSimulator({
    host: config.simulator.host,
    port: config.simulator.port === 0 ? 0 : config.simulator.port + 1,
    models: DEMO_MODELS,
    latency,
  });
  const vendor = (id: string, simulator: RunningSimulator) => ({
    id,
    protocol: "openai" as const,
    base_url: `${simulator.url}/v1`,
    api_key: "simulator",
    first_byte_timeout_ms: 10_000,
    total_timeout_ms: 60_000,
    max_connections: 64,
  });
  const routes =
    config.gateway.routes.length > 0
      ? config.gateway.routes
      : ["small", "large"].map((size) => ({
          model: size === "small" ? "fast" : "smart",
          fallback: [
            { vendor: "sim-alpha", model: `sim-${size}` },
            { vendor: "sim-beta", model: `sim-${size}` },
          ],
        }));
  logger.warn(
    `NO VENDOR CONFIGURED: started the SIMULATOR as vendors sim-alpha (${alpha.url}) and sim-beta (${beta.url}). ` +
      "Answers are synthetic. Configure gateway.vendors for real traffic.",
  );
  return {
    gateway: {
      ...config.gateway,
      vendors: [vendor("sim-alpha", alpha), vendor("sim-beta", beta)],
      routes,
    },
    simulators: [alpha, beta],
  };
}
