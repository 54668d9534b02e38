// The command registry (architecture.md, style 2): every command declares its name, the states it is
// allowed in and the capability it brings; the dispatcher enforces state in one place and CAPABILITY is
// generated from here.
import type { Reader } from "../proto/reader.js";
import type { Session } from "./session.js";

export type SessionState = "notauth" | "auth" | "selected" | "logout";

export interface CommandSpec {
  name: string;
  states: readonly SessionState[];
  /** Capabilities this command brings (listed in CAPABILITY). */
  capabilities?: readonly string[];
  /** Accepts the UID prefix (UID FETCH, UID STORE, ...). */
  uid?: boolean;
  /** Parses its arguments from `r` (positioned after the name) and runs. */
  run(session: Session, r: Reader, ctx: { tag: string; uid: boolean }): Promise<void>;
}

export const AUTHED = ["auth", "selected"] as const;
export const SELECTED = ["selected"] as const;
export const ANY = ["notauth", "auth", "selected"] as const;

export class CommandRegistry {
  private readonly byName = new Map<string, CommandSpec>();
  register(...specs: CommandSpec[]): this {
    for (const s of specs) this.byName.set(s.name, s);
    return this;
  }
  get(name: string): CommandSpec | undefined {
    return this.byName.get(name.toUpperCase());
  }
  /** Capabilities brought by commands, in registration order, without duplicates. */
  capabilities(): string[] {
    const out: string[] = [];
    for (const s of this.byName.values())
      for (const c of s.capabilities ?? []) if (!out.includes(c)) out.push(c);
    return out;
  }
}
