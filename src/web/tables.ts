// The "Tables" section: rows per table, refreshed after every load.
import { getTables, tableList } from './api.js';
import { byId, formatNumber, h, say } from './dom.js';

/** Fills the row counts; answers the counts (empty when the API could not be read). */
export async function refreshTables(): Promise<Map<string, number>> {
  const body = byId('table-counts', HTMLTableElement).tBodies[0]!;
  const status = byId('tables-status', HTMLParagraphElement);
  try {
    const { tables } = await getTables();
    body.replaceChildren(
      ...tables.map((t) =>
        h('tr', { 'data-table': t.name }, h('th', { scope: 'row' }, t.name), h('td', { class: 'num' }, formatNumber(t.rows))),
      ),
    );
    const empty = tables.every((t) => t.rows === 0);
    say(status, empty ? `The tables are empty: load ${tableList('and', '.csv')}.` : '');
    return new Map(tables.map((t) => [t.name, t.rows]));
  } catch (error) {
    say(status, `The row counts could not be read: ${(error as Error).message}`, 'error');
    return new Map();
  }
}

export function setupTables(): void {
  byId('tables-refresh', HTMLButtonElement).addEventListener('click', () => void refreshTables());
}
