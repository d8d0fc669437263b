import type { PendingRecord } from "./record-batcher.ts";

/**
 * Writes one batch of records durably, now, and says whether it did: the
 * lower half of a sink, under its in-memory batcher. The outbox holds two of
 * them (Kafka, and the local log as its spool) and picks one per batch.
 */
export interface RecordWriter {
  /**
   * Resolves once every record is durable, each topic's records in the order
   * given. Rejects when they may not be; a `PartialDeliveryError` names the
   * ones that surely are not, any other error means none can be counted on.
   */
  write(records: PendingRecord[]): Promise<void>;
  close(): Promise<void>;
}
