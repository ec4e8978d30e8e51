// tsc compiles only TypeScript: copy the .sql files (migrations, reports) next to the output.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function copy(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copy(path);
    else if (name.endsWith('.sql')) cpSync(path, join('dist', path.slice('src/'.length)));
  }
}
copy('src');
