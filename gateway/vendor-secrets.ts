// The vendor keys the gateway holds, read once at start-up: what the adapters
// send upstream, and what the secret redactor (eventlog/secret-redactor.ts)
// keeps from ever leaving the process.
import { isRedactable, SecretRedactor } from "../eventlog/secret-redactor.ts";
import type { VendorConfig } from "./config.ts";

/** A vendor's key: from the environment variable it names, else inline (local simulators). */
export function vendorApiKeyOf(
  vendor: Pick<VendorConfig, "api_key_env" | "api_key">,
  environment: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return vendor.api_key_env ? environment[vendor.api_key_env] : vendor.api_key;
}

/**
 * One redactor for every configured vendor key, and the vendors whose key is
 * too short to redact (MIN_REDACTED_SECRET_LENGTH), for the caller to warn
 * about: their keys are not protected.
 */
export function vendorSecretRedactor(
  vendors: readonly VendorConfig[],
  environment: NodeJS.ProcessEnv = process.env,
): { redactor: SecretRedactor; unredactedVendors: string[] } {
  const keys = vendors.map((vendor) => ({
    vendor: vendor.id,
    key: vendorApiKeyOf(vendor, environment),
  }));
  return {
    redactor: new SecretRedactor(keys.map(({ key }) => key)),
    unredactedVendors: keys
      .filter(({ key }) => key !== undefined && key !== "" && !isRedactable(key))
      .map(({ vendor }) => vendor),
  };
}
