// A vendor whose key variable is unset would start, then fail every request
// with the vendor's 401. Start-up refuses it instead, naming the variable.
// A vendor with its key inline (`api_key`, local simulators) or none at all
// (a local vLLM or Ollama) needs no variable.
import type { VendorConfig } from "../gateway/config.ts";

export interface UnsetVendorKey {
  vendor: string;
  variable: string;
}

/** Vendors whose `api_key_env` names a variable that is unset or empty in `environment`. */
export function unsetVendorKeys(
  vendors: readonly Pick<VendorConfig, "id" | "api_key_env">[],
  environment: NodeJS.ProcessEnv = process.env,
): UnsetVendorKey[] {
  return vendors.flatMap((vendor) =>
    vendor.api_key_env && !environment[vendor.api_key_env]
      ? [{ vendor: vendor.id, variable: vendor.api_key_env }]
      : [],
  );
}

/** Throws, naming every unset variable and its vendor, when a vendor's key variable is unset. */
export function refuseUnsetVendorKeys(
  vendors: readonly Pick<VendorConfig, "id" | "api_key_env">[],
  environment: NodeJS.ProcessEnv = process.env,
): void {
  const unset = unsetVendorKeys(vendors, environment);
  if (unset.length === 0) return;
  const lines = unset.map(
    ({ vendor, variable }) =>
      `  gateway.vendors[${vendor}].api_key_env: ${variable} is not set (or empty); every request to ${vendor} would fail with 401`,
  );
  throw new Error(
    `refusing to start: a vendor's key is missing from the environment\n${lines.join("\n")}\nSet ${unset.map(({ variable }) => variable).join(", ")} (e.g. export ${unset[0]?.variable}=…), or remove the vendor from gateway.vendors.`,
  );
}
