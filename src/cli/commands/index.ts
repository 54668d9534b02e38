// Every sub-command of `domicilio`, one file each. Each is loaded only when it is the one being run:
// a command pays for the libraries it uses (fastify, the database drivers, X.509), not for every other's.
import type { Command } from "commander";

type Register = (program: Command) => void;

/** Top-level command name → loader of the module that registers it (and its sub-commands). */
export const COMMANDS: Record<string, () => Promise<Register>> = {
  init: async () => (await import("./init.js")).registerInit,
  serve: async () => (await import("./serve.js")).registerServe,
  mailbox: async () => (await import("./mailbox.js")).registerMailbox,
  migrate: async () => (await import("./migrate.js")).registerMigrate,
  admin: async () => (await import("./admin.js")).registerAdmin,
  config: async () => (await import("./config.js")).registerConfig,
  demo: async () => (await import("./demo.js")).registerDemo,
  pec: async () => (await import("./pec-inspect.js")).registerPecInspect,
  provider: async () => (await import("./provider.js")).registerProvider,
  queue: async () => (await import("./queue.js")).registerQueue,
  log: async () => (await import("./log.js")).registerLog,
};

/** Registers the command named in argv, or all of them when none is (for help and error messages). */
export async function registerCommands(program: Command, argv: string[]): Promise<void> {
  const name = argv.slice(2).find((a) => !a.startsWith("-"));
  const chosen = name && name in COMMANDS ? [name] : Object.keys(COMMANDS);
  for (const register of await Promise.all(chosen.map((n) => COMMANDS[n]!()))) register(program);
}
