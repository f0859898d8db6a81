#!/usr/bin/env node
// `flotilla` entry point (npx flotilla …). The CLI itself is bundled to dist/cli by `npm run build`.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli', 'flotilla.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('flotilla: the CLI is not built yet. Run `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(cli);
