// `flotilla` CLI entry (bundled to dist/cli/flotilla.js; bin/flotilla.js requires it).
import { main } from './run-cli';

void main(process.argv.slice(2));
