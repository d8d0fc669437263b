// The reference: a bare pass-through of ~40 lines, fastify in and undici out,
// doing nothing but forwarding the body and piping the answer back.
import Fastify from "fastify";
import { Pool } from "undici";

const [port, upstreamUrl] = [Number(process.argv[2]), process.argv[3] ?? ""];
const upstream = new URL(upstreamUrl);
const pool = new Pool(upstream.origin, { connections: 256 });
const app = Fastify();

app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) =>
  done(null, body),
);

app.post("/v1/chat/completions", async (request, reply) => {
  const response = await pool.request({
    method: "POST",
    path: `${upstream.pathname}/chat/completions`,
    headers: {
      "content-type": "application/json",
      authorization: request.headers.authorization ?? "",
    },
    body: request.body as Buffer,
  });
  reply.code(response.statusCode);
  const contentType = response.headers["content-type"];
  if (typeof contentType === "string") reply.header("content-type", contentType);
  return reply.send(response.body);
});

await app.listen({ host: "127.0.0.1", port });
console.log(`ready http://127.0.0.1:${port}`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
