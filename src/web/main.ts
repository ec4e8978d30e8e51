// The dashboard's entry point: wires the four sections, then reads what is stored.
import { setupBackups } from './backups.js';
import { refreshReports, setupReports } from './reports.js';
import { setupScrollHints } from './scroll-hint.js';
import { refreshTables, setupTables } from './tables.js';
import { setupUpload } from './upload.js';

const refresh = async (): Promise<void> => {
  await Promise.all([refreshTables(), refreshReports()]);
};

setupTables();
setupReports();
setupScrollHints();
setupUpload(refresh);
// After a restore, the tables and reports are read again, as after an upload.
setupBackups(refresh);
void refresh();
