// Azure OpenAI's wire protocol: OpenAI's bodies at per-deployment paths
// (`/openai/deployments/{deployment}/chat/completions?api-version=…`), the key in an
// `api-key` header, and Azure's own wording for a missing key or deployment. The
// deployment names the simulated model. The api-version is not checked: the query string
// never reaches a protocol.
import type { IncomingHttpHeaders } from "node:http";
import { openAIChat, readChatCompletion, readEmbeddingsRequest } from "./openai-chat.ts";
import type { Endpoint, WireProtocol, WireResponse } from "./wire-protocol.ts";

const DEPLOYMENT_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;

function deploymentOf(pathname: string): string {
  return decodeURIComponent(DEPLOYMENT_PATH.exec(pathname)?.[1] ?? "");
}

function azureError(status: number, code: string, message: string): WireResponse {
  return {
    status,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ error: { code, message } }),
  };
}

export const azureOpenAI: WireProtocol = {
  endpointOf(method: string, pathname: string): Endpoint | undefined {
    const match = DEPLOYMENT_PATH.exec(pathname);
    if (method !== "POST" || !match) return undefined;
    return match[2] === "embeddings" ? "embeddings" : "completion";
  },

  rejectUnauthenticated(headers: IncomingHttpHeaders) {
    const key = headers["api-key"];
    if (typeof key === "string" && key.trim() !== "") return undefined;
    return azureError(
      401,
      "401",
      "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
    );
  },

  readCompletion(body: string, pathname: string) {
    return readChatCompletion(body, deploymentOf(pathname));
  },

  readEmbeddings(body: string, pathname: string) {
    return readEmbeddingsRequest(body, deploymentOf(pathname));
  },

  models: openAIChat.models,

  unknownModel(modelId: string) {
    return azureError(
      404,
      "DeploymentNotFound",
      `The API deployment ${modelId} for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.`,
    );
  },

  unknownEndpoint: openAIChat.unknownEndpoint,
  rateLimited: openAIChat.rateLimited,
  serverError: openAIChat.serverError,
  overloaded: openAIChat.overloaded,
  streamErrorFrame: openAIChat.streamErrorFrame,
};
