// Every IMAP command, registered once. The order here is the order capabilities are listed in.
import { CommandRegistry } from "../registry.js";
import { append } from "./append.js";
import { authenticate, login, starttls } from "./auth.js";
import { capability, check, enable, id, logout, namespace, noop } from "./basic.js";
import { copy, move } from "./copy.js";
import { expunge } from "./expunge.js";
import { fetch } from "./fetch.js";
import { create, deleteFolder, rename, subscribe, unsubscribe } from "./folders.js";
import { idle } from "./idle.js";
import { list, lsub } from "./list.js";
import { getquota, getquotaroot, setquota } from "./quota.js";
import { search } from "./search.js";
import { close, examine, select, unselect } from "./select.js";
import { status } from "./status.js";
import { store } from "./store.js";

export function createRegistry(): CommandRegistry {
  return new CommandRegistry().register(
    capability,
    noop,
    logout,
    starttls,
    authenticate,
    login,
    id,
    enable,
    idle,
    namespace,
    append,
    select,
    examine,
    create,
    deleteFolder,
    rename,
    subscribe,
    unsubscribe,
    list,
    lsub,
    status,
    check,
    close,
    unselect,
    expunge,
    search,
    fetch,
    store,
    copy,
    move,
    getquotaroot,
    getquota,
    setquota,
  );
}
