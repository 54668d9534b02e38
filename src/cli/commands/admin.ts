// `domicilio admin add EMAIL --data DIR --password PW`: an order administrator for the console.
import type { Command } from "commander";
import { hashPassword } from "../../accounts/passwords.js";
import { StoreError } from "../../store/types.js";
import { CliError, withStore } from "../context.js";

export function registerAdmin(program: Command): void {
  const admin = program.command("admin").description("manage the order's console administrators");
  admin
    .command("add")
    .description("create a console administrator")
    .argument("<email>", "login e-mail")
    .requiredOption("--data <dir>", "data folder")
    .requiredOption("--password <password>", "password")
    .action(async (email: string, opts: { data: string; password: string }) => {
      if (opts.password.length === 0) throw new CliError("--password must not be empty");
      await withStore(opts.data, async (store) => {
        try {
          const created = await store.createAdmin(email, await hashPassword(opts.password));
          await store.audit({ actor: "cli", action: "admin.create", target: created.email });
          console.log(`created administrator ${created.email}`);
        } catch (err) {
          if (err instanceof StoreError) throw new CliError(err.message);
          throw err;
        }
      });
    });
}
