// The upstream every target forwards to: the simulator, answering at once.
import { startSimulator } from "../../simulator/index.ts";

const port = Number(process.argv[2] ?? 0);
const simulator = await startSimulator({ port, models: [{ id: "sim-small" }] });
console.log(`ready ${simulator.url}`);
process.on("SIGTERM", () => void simulator.close().then(() => process.exit(0)));
