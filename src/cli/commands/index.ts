// Every sub-command of `domicilio`, one file each.
import type { Command } from "commander";
import { registerAdmin } from "./admin.js";
import { registerConfig } from "./config.js";
import { registerDemo } from "./demo.js";
import { registerInit } from "./init.js";
import { registerLog } from "./log.js";
import { registerMailbox } from "./mailbox.js";
import { registerPecInspect } from "./pec-inspect.js";
import { registerProvider } from "./provider.js";
import { registerQueue } from "./queue.js";
import { registerServe } from "./serve.js";

export function registerCommands(program: Command): void {
  registerInit(program);
  registerServe(program);
  registerMailbox(program);
  registerAdmin(program);
  registerConfig(program);
  registerDemo(program);
  registerPecInspect(program);
  registerProvider(program);
  registerQueue(program);
  registerLog(program);
}
