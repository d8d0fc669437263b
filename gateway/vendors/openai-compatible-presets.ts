// The OpenAI-compatible family: vendors that speak OpenAI's Chat Completions
// wire protocol at their own base URL, each with its small differences
// declared here. Adding such a vendor is one entry in this table; nothing
// else changes (the adapter is openai-compatible.ts).

export interface OpenAIDialect {
  /** Where the vendor's API lives, up to and including its /v1; none for self-hosted servers. */
  defaultBaseUrl: string | null;
  /**
   * How a stream's usage is obtained: asked for with `stream_options.include_usage`,
   * or sent on the last chunk anyway by a vendor that refuses `stream_options`.
   */
  streamUsage: "stream_options" | "always";
  /** `max_tokens` for vendors that do not know `max_completion_tokens` (renamed, not dropped). */
  maxTokensField: "as_sent" | "max_tokens";
  /** Request fields the vendor refuses or ignores; dropped with a warning to the client. */
  unsupportedParameters: readonly string[];
  /** The vendor serves POST /embeddings. */
  embeddings: boolean;
}

// OpenAI-only fields that compatible servers reject or silently ignore.
const OPENAI_ONLY = ["metadata", "store", "service_tier", "prediction", "modalities", "audio"];

export const OPENAI_COMPATIBLE_PRESETS = {
  openai: {
    defaultBaseUrl: "https://api.openai.com/v1",
    streamUsage: "stream_options",
    maxTokensField: "as_sent",
    unsupportedParameters: [],
    embeddings: true,
  },
  // Any other server that speaks the protocol: sent as the client wrote it.
  "openai-compatible": {
    defaultBaseUrl: null,
    streamUsage: "stream_options",
    maxTokensField: "as_sent",
    unsupportedParameters: [],
    embeddings: true,
  },
  deepseek: {
    defaultBaseUrl: "https://api.deepseek.com/v1",
    streamUsage: "stream_options",
    maxTokensField: "max_tokens",
    unsupportedParameters: [...OPENAI_ONLY, "n", "logit_bias"],
    embeddings: false,
  },
  mistral: {
    defaultBaseUrl: "https://api.mistral.ai/v1",
    streamUsage: "always",
    maxTokensField: "max_tokens",
    unsupportedParameters: [...OPENAI_ONLY, "user", "logit_bias", "logprobs", "top_logprobs"],
    embeddings: true,
  },
  // Alibaba Cloud Model Studio (DashScope) in its OpenAI-compatible mode.
  qwen: {
    defaultBaseUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    streamUsage: "stream_options",
    maxTokensField: "max_tokens",
    unsupportedParameters: [...OPENAI_ONLY, "logit_bias"],
    embeddings: true,
  },
  xai: {
    defaultBaseUrl: "https://api.x.ai/v1",
    streamUsage: "stream_options",
    maxTokensField: "as_sent",
    unsupportedParameters: OPENAI_ONLY,
    embeddings: false,
  },
  groq: {
    defaultBaseUrl: "https://api.groq.com/openai/v1",
    streamUsage: "stream_options",
    maxTokensField: "as_sent",
    unsupportedParameters: [
      "metadata",
      "store",
      "prediction",
      "modalities",
      "audio",
      "logprobs",
      "top_logprobs",
      "logit_bias",
    ],
    embeddings: false,
  },
  together: {
    defaultBaseUrl: "https://api.together.xyz/v1",
    streamUsage: "always",
    maxTokensField: "max_tokens",
    unsupportedParameters: OPENAI_ONLY,
    embeddings: true,
  },
  vllm: {
    defaultBaseUrl: null,
    streamUsage: "stream_options",
    maxTokensField: "as_sent",
    unsupportedParameters: OPENAI_ONLY,
    embeddings: true,
  },
  ollama: {
    defaultBaseUrl: "http://127.0.0.1:11434/v1",
    streamUsage: "stream_options",
    maxTokensField: "max_tokens",
    unsupportedParameters: [...OPENAI_ONLY, "logit_bias", "n"],
    embeddings: true,
  },
} as const satisfies Record<string, OpenAIDialect>;

export type OpenAICompatibleProtocol = keyof typeof OPENAI_COMPATIBLE_PRESETS;

export const OPENAI_COMPATIBLE_PROTOCOLS = Object.keys(OPENAI_COMPATIBLE_PRESETS) as [
  OpenAICompatibleProtocol,
  ...OpenAICompatibleProtocol[],
];
