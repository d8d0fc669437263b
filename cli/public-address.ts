// The demo config's credentials are published in the README: a gateway or
// analytics API accepting one on an address others can reach is open to
// anyone. Start-up refuses that unless the operator says otherwise, and every
// listener logs the address it is really bound to.
import { createHash } from "node:crypto";
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import type { Logger } from "pino";
import { DEMO_ANALYTICS_TOKEN } from "../analytics/access.ts";
import type { SwitchboardConfig } from "./config.ts";
import { DEMO_API_KEYS } from "./demo.ts";

/** A listener that takes credentials, and the demo ones it would accept. */
export interface CredentialedListener {
  /** The settings that put it where it is, for the messages. */
  hostSetting: "gateway.host" | "analytics.host";
  host: string;
  /** Which demo credentials are configured, by setting and id, e.g. `gateway.api_keys[demo]`. */
  demoCredentials: string[];
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");
// An IPv4 loopback address written as IPv6 (::ffff:127.0.0.1).
LOOPBACK.addSubnet("::ffff:127.0.0.0", 104, "ipv6");

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Whether an IP address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Whether binding to `host` can only be reached from this machine: an IP
 * address in a loopback range, or a name every address of which is one. A
 * name that does not resolve counts as public, so the check fails closed.
 */
export async function isLoopbackHost(
  host: string,
  resolve: (name: string) => Promise<{ address: string }[]> = (name) => lookup(name, { all: true }),
): Promise<boolean> {
  if (isIP(host) !== 0) return isLoopbackAddress(host);
  if (host === "") return false; // the unspecified address: every interface
  try {
    const addresses = await resolve(host);
    return addresses.length > 0 && addresses.every(({ address }) => isLoopbackAddress(address));
  } catch {
    return false;
  }
}

/** The listeners `role` starts that take credentials, with the demo credentials each accepts. */
export function credentialedListeners(
  config: SwitchboardConfig,
  role: string,
): CredentialedListener[] {
  const listeners: CredentialedListener[] = [];
  if (role === "all" || role === "gateway") {
    listeners.push({
      hostSetting: "gateway.host",
      host: config.gateway.host,
      demoCredentials: demoEntries(config.gateway.api_keys, "gateway.api_keys", DEMO_API_KEYS),
    });
  }
  if (role === "all" || role === "analytics") {
    listeners.push({
      hostSetting: "analytics.host",
      host: config.analytics.host,
      demoCredentials: demoEntries(config.analytics.tokens, "analytics.tokens", [
        DEMO_ANALYTICS_TOKEN,
      ]),
    });
  }
  return listeners;
}

/** `setting[id] (credential)` for each configured entry that is a demo credential (by its hash). */
function demoEntries(
  entries: readonly { id: string; sha256: string }[],
  setting: string,
  credentials: readonly string[],
): string[] {
  const byHash = new Map(credentials.map((credential) => [sha256Hex(credential), credential]));
  return entries.flatMap((entry) => {
    const credential = byHash.get(entry.sha256);
    return credential === undefined ? [] : [`${setting}[${entry.id}] (${credential})`];
  });
}

/** Start-up stopped: a demo credential would be accepted on an address others can reach. */
export class DemoCredentialsExposedError extends Error {
  override name = "DemoCredentialsExposedError";
}

/**
 * Refuses to start when a listener on a non-loopback address accepts a demo
 * credential, naming the setting, the credential and the ways out. With
 * `allowPublicDemoCredentials` it starts, warning on every start.
 */
export async function refuseDemoCredentialsOnPublicAddress(
  listeners: readonly CredentialedListener[],
  options: {
    allowPublicDemoCredentials: boolean;
    logger: Logger;
    isLoopback?: (host: string) => Promise<boolean>;
  },
): Promise<void> {
  const isLoopback = options.isLoopback ?? isLoopbackHost;
  for (const listener of listeners) {
    if (listener.demoCredentials.length === 0 || (await isLoopback(listener.host))) continue;
    const exposure = `${listener.hostSetting} is ${JSON.stringify(listener.host)}, not a loopback address, and ${listener.demoCredentials.join(" and ")} is configured: that credential is published in the README, so anyone who can reach the port can use it`;
    if (options.allowPublicDemoCredentials) {
      options.logger.warn(
        { host: listener.host, demo_credentials: listener.demoCredentials },
        `DEMO CREDENTIALS ON A PUBLIC ADDRESS: ${exposure}. Starting anyway because allow_public_demo_credentials is true.`,
      );
      continue;
    }
    throw new DemoCredentialsExposedError(
      `refusing to start: ${exposure}. Replace the demo credentials with your own, bind ${listener.hostSetting} to 127.0.0.1, or set allow_public_demo_credentials: true (SWITCHBOARD_ALLOW_PUBLIC_DEMO_CREDENTIALS=true) to start anyway.`,
    );
  }
}

/**
 * The addresses a server is bound to, as `host:port` (IPv6 in brackets), the
 * unspecified ones said to mean every interface: not the loopback URL
 * fastify answers `listen` with, which hides a bind to 0.0.0.0.
 */
export function describeBoundAddresses(
  addresses: readonly (string | { address: string; port: number })[],
): string {
  return addresses
    .map((bound) => {
      if (typeof bound === "string") return bound; // a pipe or socket path
      const { address, port } = bound;
      const hostPort = `${address.includes(":") ? `[${address}]` : address}:${port}`;
      return address === "0.0.0.0" || address === "::" ? `${hostPort} (every interface)` : hostPort;
    })
    .join(", ");
}
