// Azure OpenAI: OpenAI's wire protocol at per-deployment URLs
// (`/openai/deployments/{deployment}/…?api-version=…`), the key in an
// `api-key` header. A route's model is the deployment name; the answer names
// the model behind it.
import type { VendorConfig } from "../config.ts";
import type { VendorAdapter } from "./adapter.ts";
import { createOpenAICompatibleAdapter } from "./openai-compatible.ts";
import { OPENAI_COMPATIBLE_PRESETS } from "./openai-compatible-presets.ts";

// The first api-version (previews included) whose streams report usage on request.
const STREAM_USAGE_SINCE = "2024-09-01";

type AzureVendorConfig = Extract<VendorConfig, { protocol: "azure-openai" }>;

export function createAzureOpenAIAdapter(config: AzureVendorConfig, apiKey: string | undefined) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey) headers["api-key"] = apiKey;
  const query = `?api-version=${encodeURIComponent(config.api_version)}`;
  const deployment = (model: string) => `/openai/deployments/${encodeURIComponent(model)}`;
  const adapter: VendorAdapter = createOpenAICompatibleAdapter({
    protocol: "azure-openai",
    // Azure serves OpenAI's API as of its api-version; streams carry usage on request
    // (stream_options) only from 2024-09-01 on, and older versions refuse the field.
    dialect: {
      ...OPENAI_COMPATIBLE_PRESETS.openai,
      streamUsage: config.api_version >= STREAM_USAGE_SINCE ? "stream_options" : "always",
    },
    endpoints: {
      chatPath: (model) => `${deployment(model)}/chat/completions${query}`,
      embeddingsPath: (model) => `${deployment(model)}/embeddings${query}`,
      headers,
    },
  });
  return adapter;
}
