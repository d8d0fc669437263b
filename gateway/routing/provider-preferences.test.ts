import { describe, expect, it } from "vitest";
import { parseProvider, takeExtensions } from "./provider-preferences.ts";

describe("OpenRouter extensions in the body", () => {
  it("a body without them is left alone, with nothing allocated", () => {
    const body = { model: "m", messages: [] };
    expect(takeExtensions(body)).toBeNull();
  });

  it("takes models and provider out of the body the vendors get", () => {
    const taken = takeExtensions({
      model: "m",
      messages: [],
      models: ["a", "b"],
      provider: { order: ["x"], require_parameters: true, max_price: { prompt: 1, image: 2 } },
    });
    expect(taken?.body).toEqual({ model: "m", messages: [] });
    expect(taken?.models).toEqual(["a", "b"]);
    expect(taken?.provider?.order).toEqual(["x"]);
    expect(taken?.warnings).toEqual([
      "provider.require_parameters is not supported by this gateway; it was ignored",
      "provider.max_price.image is not supported by this gateway; it was ignored",
    ]);
  });

  it.each([
    [{ models: [] }, "models"],
    [{ models: "a" }, "models"],
    [{ models: ["a", ""] }, "models[1]"],
    [{ provider: "openai" }, "provider"],
    [{ provider: { order: "a" } }, "provider.order"],
    [{ provider: { only: [1] } }, "provider.only[0]"],
    [{ provider: { ignore: {} } }, "provider.ignore"],
    [{ provider: { allow_fallbacks: "no" } }, "provider.allow_fallbacks"],
    [{ provider: { sort: "cheapest" } }, "provider.sort"],
    [{ provider: { max_price: { prompt: -1 } } }, "provider.max_price.prompt"],
    [{ provider: { max_price: { completion: "1e-3" } } }, "provider.max_price.completion"],
    [{ provider: { max_price: { prompt: "0.0000000000001" } } }, "provider.max_price.prompt"],
    [{ provider: { data_collection: "maybe" } }, "provider.data_collection"],
    [{ provider: { zdr: 1 } }, "provider.zdr"],
  ])("refuses %j with a 400 naming %s", (body, param) => {
    expect(() => takeExtensions({ model: "m", ...body })).toThrow(
      expect.objectContaining({ code: "invalid_request", status: 400, param }),
    );
  });

  it("reads max_price as exact decimals, numbers and strings alike", () => {
    expect(parseProvider({ max_price: { prompt: 1e-7, completion: "2.5" } }).maxPrice).toEqual({
      prompt: 100_000n, // 0.0000001 × 10^12
      completion: 2_500_000_000_000n,
    });
  });

  it("defaults: fallbacks allowed, data collection allowed, no zdr", () => {
    expect(parseProvider({})).toEqual({
      order: null,
      only: null,
      ignore: null,
      allowFallbacks: true,
      sort: null,
      maxPrice: null,
      dataCollection: "allow",
      zdr: false,
    });
  });
});
