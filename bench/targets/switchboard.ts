// Switchboard's gateway as it runs in production, everything on: a task
// class routed by the cheapest-meeting-quality policy between two vendors
// (both the one simulator), circuit breakers, a vendor contract (list and
// contracted cost on every event), a key with team and tags under a team
// budget, and events written to a local segment log on disk.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { openEventLog } from "../../eventlog/index.ts";
import { buildGateway } from "../../gateway/app.ts";
import { sha256Hex } from "../../gateway/auth.ts";
import { gatewayConfig } from "../../gateway/config.ts";
import { PriceCatalog } from "../../gateway/pricing.ts";

const [port, upstreamUrl] = [Number(process.argv[2]), process.argv[3] ?? ""];
const config = gatewayConfig.parse({
  port,
  price_catalog: "-",
  api_keys: [
    {
      id: "bench",
      tenant: "bench",
      team: "platform",
      tags: ["env:bench", "app:rig"],
      sha256: sha256Hex("sk-bench"),
    },
  ],
  vendors: [
    { id: "sim", protocol: "openai", base_url: upstreamUrl, api_key: "simulator" },
    { id: "sim-eu", protocol: "openai", base_url: upstreamUrl, api_key: "simulator" },
  ],
  routing: {
    tasks: {
      general: {
        policy: "cheapest",
        quality_floor: "0.8",
        candidates: [
          { vendor: "sim-eu", model: "sim-small", quality: "0.9" },
          { vendor: "sim", model: "sim-small", quality: "0.85" },
        ],
      },
    },
    // The name the rig's clients send.
    aliases: { "sim-small": { by_task: true } },
  },
  contracts: [
    { id: "sim-2026", vendor: "sim", effective_from: "2026-01-01", discount_percent: "12.5" },
  ],
  budgets: [
    {
      id: "platform-monthly",
      scope: "team",
      scope_id: "platform",
      unit: "usd",
      period: "month",
      soft_limit: "1000000",
      hard_limit: "2000000",
    },
  ],
});
const prices = new PriceCatalog({
  version: "bench",
  currency: "USD",
  unit: "per_million_tokens",
  prices: [
    { vendor: "sim", model: "sim-small", input: "0.15", output: "0.60" },
    { vendor: "sim-eu", model: "sim-small", input: "0.20", output: "0.80" },
  ],
});
const directory = mkdtempSync(join(tmpdir(), "switchboard-bench-events-"));
const sink = await openEventLog({ localDirectory: directory }).createSink();
const app = buildGateway({ config, prices, sink, logger: pino({ level: "warn" }) });
await app.listen({ host: "127.0.0.1", port });
console.log(`ready http://127.0.0.1:${port} events in ${directory}`);
process.on(
  "SIGTERM",
  () =>
    void app
      .close()
      .then(() => sink.close())
      .then(() => process.exit(0)),
);
