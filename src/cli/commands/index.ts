// Every sub-command of `domicilio`, one file each.
import type { Command } from "commander";
import { registerPecInspect } from "./pec-inspect.js";
import { registerProvider } from "./provider.js";

export function registerCommands(program: Command): void {
  registerPecInspect(program);
  registerProvider(program);
}
