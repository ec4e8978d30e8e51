import { columnKinds, RecordCursor, type ColumnKind } from '../../backup/own-layout.js';
import type { TableDef } from '../../tables.js';
import { hireCountColumns } from '../hire-count-key.js';
import type { HireCountTally } from './hire-count-tally.js';

/**
 * What the two COPY writers of a backup's records share (avro-copy.ts for COPY text,
 * avro-copy-binary.ts for COPY BINARY): the columns' kinds and names, a cursor over the
 * records, one output buffer reused page after page, and the record's values a tally counts.
 */
export abstract class RecordConverter {
  protected readonly kinds: readonly ColumnKind[];
  protected readonly names: readonly string[];
  /** The record's values by column, as a tally needs them: ids, an instant's year-quarter, NaN for NULL. */
  protected readonly values: Float64Array;
  protected readonly cursor = new RecordCursor();
  protected out = Buffer.allocUnsafe(1 << 16);
  private readonly counted: { datetime: number; department: number; job: number } | undefined;

  constructor(
    table: TableDef,
    private readonly tally?: HireCountTally,
  ) {
    this.kinds = columnKinds(table);
    this.names = table.columns.map((c) => c.name);
    this.counted = tally === undefined ? undefined : hireCountColumns(table);
    this.values = new Float64Array(table.columns.length);
  }

  /** Counts the record just read (its `values`) in the tally, when there is one. */
  protected countRecord(): void {
    const counted = this.counted;
    if (counted !== undefined) {
      const values = this.values;
      this.tally!.countNumbers(values[counted.datetime]!, values[counted.department]!, values[counted.job]!);
    }
  }
}
