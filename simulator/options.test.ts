// A simulator set up wrongly refuses to start and says which option is wrong.
import { describe, expect, it } from "vitest";
import { type SimulatorOptions, startSimulator } from "./index.ts";

describe("startSimulator options", () => {
  it.each<[string, SimulatorOptions, RegExp]>([
    ["no models", { models: [] }, /at models/],
    ["the same model twice", { models: [{ id: "a" }, { id: "a" }] }, /model ids must be unique/],
    [
      "a p95 below the median",
      {
        models: [{ id: "a" }],
        latency: { firstByteMs: { median: 100, p95: 50 }, interTokenMs: 0 },
      },
      /p95 must be at least the median[\s\S]*at latency\.firstByteMs/,
    ],
    [
      "a misspelt fault",
      { models: [{ id: "a" }], faults: { serverErrors: 1 } as SimulatorOptions["faults"] },
      /Unrecognized key: "serverErrors"[\s\S]*at faults/,
    ],
    [
      "fault probabilities above 1 in all",
      { models: [{ id: "a" }], faults: { serverError: 0.7, rateLimited: 0.7 } },
      /add up to at most 1[\s\S]*at faults/,
    ],
    [
      "faults for a model not simulated",
      { models: [{ id: "a" }], faultsByModel: { b: { serverError: 1 } } },
      /at faultsByModel/,
    ],
  ])("refuses %s, naming the option", async (_case, options, message) => {
    await expect(startSimulator(options)).rejects.toThrow(message);
  });
});
