// The dashboard's entry point: wires the three sections, then reads what is stored.
import { refreshReports, setupReports } from './reports.js';
import { refreshTables, setupTables } from './tables.js';
import { setupUpload } from './upload.js';

const refresh = async (): Promise<void> => {
  await Promise.all([refreshTables(), refreshReports()]);
};

setupTables();
setupReports();
setupUpload(refresh);
void refresh();
