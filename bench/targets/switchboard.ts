// Switchboard's gateway as it runs in production: routing, pricing and event
// emission all on, events written to a local segment log on disk.
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
  api_keys: [{ id: "bench", tenant: "bench", sha256: sha256Hex("sk-bench") }],
  vendors: [{ id: "sim", protocol: "openai", base_url: upstreamUrl, api_key: "simulator" }],
  routes: [{ model: "sim-small", fallback: [{ vendor: "sim", model: "sim-small" }] }],
});
const prices = new PriceCatalog({
  version: "bench",
  currency: "USD",
  unit: "per_million_tokens",
  prices: [{ vendor: "sim", model: "sim-small", input: "0.15", output: "0.60" }],
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
