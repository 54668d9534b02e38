// Runs the `domicilio` CLI from the TypeScript sources (through tsx), as bin/domicilio.js runs dist/:
// tests drive the real command without depending on a fresh build.
import { main } from "../../src/cli/main.js";

main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
