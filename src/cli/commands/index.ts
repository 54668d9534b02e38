// Every sub-command of `domicilio`, one file each.
import type { Command } from "commander";
import { registerAdmin } from "./admin.js";
import { registerConfig } from "./config.js";
import { registerDemo } from "./demo.js";
import { registerInit } from "./init.js";
import { registerMailbox } from "./mailbox.js";
import { registerMigrate } from "./migrate.js";
import { registerServe } from "./serve.js";

export function registerCommands(program: Command): void {
  registerInit(program);
  registerServe(program);
  registerMailbox(program);
  registerMigrate(program);
  registerAdmin(program);
  registerConfig(program);
  registerDemo(program);
}
