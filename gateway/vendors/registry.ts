// Which adapter speaks each configured protocol: one line per wire protocol.
// The OpenAI-compatible family shares one adapter, its members told apart by
// their declared differences (openai-compatible-presets.ts).
import type { VendorConfig } from "../config.ts";
import { vendorApiKeyOf } from "../vendor-secrets.ts";
import type { VendorAdapter } from "./adapter.ts";
import { createAnthropicAdapter } from "./anthropic.ts";
import { createAzureOpenAIAdapter } from "./azure-openai.ts";
import { createGeminiAdapter } from "./gemini.ts";
import { bearerEndpoints, createOpenAICompatibleAdapter } from "./openai-compatible.ts";
import { OPENAI_COMPATIBLE_PRESETS } from "./openai-compatible-presets.ts";

/** The adapter for one configured vendor, holding its key (read from the environment once). */
export function createVendorAdapter(config: VendorConfig): VendorAdapter {
  const apiKey = vendorApiKeyOf(config);
  switch (config.protocol) {
    case "anthropic":
      return createAnthropicAdapter(config, apiKey);
    case "gemini":
      return createGeminiAdapter(config, apiKey);
    case "azure-openai":
      return createAzureOpenAIAdapter(config, apiKey);
    default:
      return createOpenAICompatibleAdapter({
        protocol: config.protocol,
        dialect: OPENAI_COMPATIBLE_PRESETS[config.protocol],
        endpoints: bearerEndpoints(apiKey),
      });
  }
}
