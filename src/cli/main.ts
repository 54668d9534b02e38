// The `domicilio` command. Each sub-command lives in its own file under commands/ and registers itself
// on the program; this file only assembles them.
import { Command } from "commander";
import { registerCommands } from "./commands/index.js";

export async function main(argv: string[]): Promise<void> {
  const program = new Command("domicilio")
    .description("Domicilio: a self-hostable PEC (posta elettronica certificata) provider")
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });
  await registerCommands(program, argv);
  await program.parseAsync(argv);
}
