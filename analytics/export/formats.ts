// The export formats: the ClickHouse output format of each page, the HTTP
// content type, and how pages join into one response body.
//
// Arrow and Parquet come only through client.exec with FORMAT in the SQL
// (CHDB-NOTES trap 4); Arrow uncompressed, because apache-arrow (and many
// readers) cannot read ClickHouse's default lz4 frames.
export const EXPORT_FORMATS = {
  arrow: {
    contentType: "application/vnd.apache.arrow.stream",
    extension: "arrows",
    firstPage: "ArrowStream",
    nextPages: "ArrowStream",
    // ClickHouse's own Arrow writer is the server default, which chDB turns
    // off; the Apache Arrow library's took about a quarter longer to write a
    // page's bytes. Both give the same schema and values.
    settings:
      "output_format_arrow_compression_method='none', output_format_arrow_use_native_writer=1",
  },
  // One Parquet file per response: a file's footer indexes its row groups, so
  // files cannot be joined; a large export is pulled response by response.
  parquet: {
    contentType: "application/vnd.apache.parquet",
    extension: "parquet",
    firstPage: "Parquet",
    nextPages: "Parquet",
    settings: "output_format_parquet_compression_method='zstd'",
  },
  ndjson: {
    contentType: "application/x-ndjson",
    extension: "ndjson",
    firstPage: "JSONEachRow",
    nextPages: "JSONEachRow",
    settings: "date_time_output_format='iso'",
  },
  csv: {
    contentType: "text/csv; header=present",
    extension: "csv",
    firstPage: "CSVWithNames",
    nextPages: "CSV",
    // A null is an empty field, as DuckDB, pandas and spreadsheets read one
    // (ClickHouse's default `\N` reads back as that text); an empty string
    // stays distinguishable, quoted `""`, since ClickHouse quotes every string.
    settings: "date_time_output_format='iso', format_csv_null_representation=''",
  },
} as const;

export type ExportFormat = keyof typeof EXPORT_FORMATS;
export const EXPORT_FORMAT_NAMES = Object.keys(EXPORT_FORMATS) as ExportFormat[];

const CONTINUATION = 0xffffffff;
const END_OF_STREAM = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * Joins Arrow IPC streams that share one schema into one stream: the first
 * page's schema message, every page's record batches, one end-of-stream
 * marker. A stream is [schema message][batch messages…][EOS]; an
 * encapsulated message starts with 0xFFFFFFFF and its metadata length, and a
 * schema message has no body.
 */
export class ArrowStreamJoiner {
  private schema: Buffer | null = null;

  /** The bytes to send for one page's complete Arrow stream. */
  page(stream: Buffer): Buffer[] {
    if (stream.length < 16 || stream.readUInt32LE(0) !== CONTINUATION) {
      throw new Error("ClickHouse sent something that is not an Arrow IPC stream");
    }
    if (!stream.subarray(stream.length - 8).equals(END_OF_STREAM)) {
      throw new Error("an Arrow page did not end with the end-of-stream marker");
    }
    const schemaLength = 8 + stream.readInt32LE(4);
    const schema = stream.subarray(0, schemaLength);
    const batches = stream.subarray(schemaLength, stream.length - 8);
    if (this.schema === null) {
      this.schema = Buffer.from(schema);
      return [this.schema, batches];
    }
    if (!schema.equals(this.schema)) throw new Error("the Arrow schema changed between pages");
    return [batches];
  }

  end(): Buffer {
    return END_OF_STREAM;
  }
}
