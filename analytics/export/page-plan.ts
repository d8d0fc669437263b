// Splits an ingest-time range into pages of at most `pageRows` rows, each a
// [start, end) range of whole milliseconds. Row counts come from histograms
// of ingested_at: first the range's total, then one histogram at a slot size
// that gives about four slots a page on average, then finer (seconds, then
// milliseconds) only where a slot holds more than a page. So planning takes a
// few queries that each read one column, however large the range. A single
// millisecond holding more than a page (one insert is stamped with one time)
// becomes a page of its own: pages are bounded by max(pageRows, the largest
// insert).
export interface Page {
  start: number;
  end: number;
  rows: number;
}

export interface PagePlan {
  pages: Page[];
  /** Where the planned pages end: the next cursor position. */
  end: number;
  /** false when `rowLimit` stopped the plan before the range's end. */
  complete: boolean;
}

/** Counts rows per slot of `slotMs` within [start, end), in slot order. */
export type SlotCounter = (
  start: number,
  end: number,
  slotMs: number,
) => Promise<{ slotStart: number; rows: number }[]>;

/** How many rows [start, end) holds, and the first and last ingest millisecond among them. */
export type RangeDescriber = (
  start: number,
  end: number,
) => Promise<{ rows: number; first: number; last: number }>;

const SLOTS_PER_PAGE = 4;

export async function planPages(
  describeRange: RangeDescriber,
  countBySlot: SlotCounter,
  range: { start: number; end: number },
  pageRows: number,
  rowLimit = Number.POSITIVE_INFINITY,
): Promise<PagePlan> {
  const pages: Page[] = [];
  let pageStart = range.start;
  let pageRowsSoFar = 0;
  let plannedRows = 0;
  let stoppedAt: number | null = null;

  const closePage = (end: number) => {
    if (pageRowsSoFar === 0) return;
    pages.push({ start: pageStart, end, rows: pageRowsSoFar });
    pageStart = end;
    pageRowsSoFar = 0;
  };

  const extent = await describeRange(range.start, range.end);
  if (extent.rows === 0) return { pages: [], end: range.end, complete: true };
  // Sized from where the rows are, not the whole range: a first export's range
  // starts in 1970.
  const firstSlotMs = Math.max(
    1,
    Math.floor(((extent.last - extent.first + 1) * pageRows) / (SLOTS_PER_PAGE * extent.rows)),
  );
  const slotSizes = [firstSlotMs, ...[1_000, 1].filter((size) => size < firstSlotMs)];

  // Returns false once the row limit stops the plan.
  const visit = async (start: number, end: number, level: number): Promise<boolean> => {
    const slotMs = slotSizes[level] as number;
    const finest = level === slotSizes.length - 1;
    for (const slot of await countBySlot(start, end, slotMs)) {
      const slotStart = Math.max(slot.slotStart, start);
      const slotEnd = Math.min(slot.slotStart + slotMs, end);
      // Too big for a page, or for what is left of the limit: look closer.
      if (!finest && (slot.rows > pageRows || plannedRows + slot.rows > rowLimit)) {
        closePage(slotStart);
        if (!(await visit(slotStart, slotEnd, level + 1))) return false;
        continue;
      }
      if (plannedRows > 0 && plannedRows + slot.rows > rowLimit) {
        closePage(slotStart);
        stoppedAt = slotStart;
        return false;
      }
      if (pageRowsSoFar > 0 && pageRowsSoFar + slot.rows > pageRows) closePage(slotStart);
      pageRowsSoFar += slot.rows;
      plannedRows += slot.rows;
    }
    return true;
  };

  const finished = await visit(range.start, range.end, 0);
  if (!finished && stoppedAt !== null) {
    return { pages, end: stoppedAt, complete: false };
  }
  closePage(range.end);
  return { pages, end: range.end, complete: true };
}
