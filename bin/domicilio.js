#!/usr/bin/env node
// The `domicilio` command: runs the compiled CLI (built by `npm install` through the `prepare` script).
import { main } from "../dist/cli/main.js";

main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
