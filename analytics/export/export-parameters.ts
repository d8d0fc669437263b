import { z } from "zod";
import { dimensionValue, isoDateTime, listParameter } from "../parameters.ts";
import { EXPORT_DATASET_NAMES, type ExportDatasetName } from "./datasets.ts";
import { EXPORT_FORMAT_NAMES, type ExportFormat } from "./formats.ts";

export const exportPathFields = {
  dataset: z
    .enum(EXPORT_DATASET_NAMES as [ExportDatasetName, ...ExportDatasetName[]])
    .describe("requests, attempts, decisions, quality, or focus (FinOps FOCUS 1.2 cost rows)"),
};

export const exportParameterFields = {
  format: z
    .enum(EXPORT_FORMAT_NAMES as [ExportFormat, ...ExportFormat[]])
    .default("ndjson")
    .describe("arrow (Arrow IPC stream), parquet (one file per response), ndjson or csv"),
  from: isoDateTime.optional().describe("only events that occurred at or after this"),
  to: isoDateTime.optional().describe("only events that occurred before this"),
  tenant: listParameter(dimensionValue)
    .optional()
    .describe("only these tenants (within the token's tenants)"),
  cursor: z
    .string()
    .max(512)
    .optional()
    .describe(
      "the x-switchboard-next-cursor of the previous response: rows ingested since then (default: from the beginning)",
    ),
  limit: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      "at most about this many rows (whole milliseconds of ingest are never split); parquet: at most one page",
    ),
};

export const exportParameters = z.object(exportParameterFields).strict();
export const exportPath = z.object(exportPathFields);
