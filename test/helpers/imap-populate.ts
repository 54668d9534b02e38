// Fills a box of a data folder with a generated corpus, straight through the store (before `serve`).
import { loadConfig } from "../../src/config/load.js";
import { openStore } from "../../src/store/open.js";
import type { CorpusMessage } from "./imap-corpus.js";

export async function populate(dataDir: string, address: string, corpus: CorpusMessage[]): Promise<void> {
  const loaded = loadConfig(dataDir);
  const store = await openStore({ dataDir: loaded.dataDir, config: loaded.config });
  try {
    const box = await store.getMailbox(address);
    if (!box) throw new Error(`no box ${address}`);
    const byFolder = new Map<string, CorpusMessage[]>();
    for (const m of corpus) byFolder.set(m.folder, [...(byFolder.get(m.folder) ?? []), m]);
    for (const [name, msgs] of byFolder) {
      const parts = name.split("/");
      for (let i = 1; i <= parts.length; i++) {
        const n = parts.slice(0, i).join("/");
        if (!(await store.getFolder(box.id, n))) await store.createFolder(box.id, n, { subscribed: true });
      }
      const folder = (await store.getFolder(box.id, name))!;
      for (let i = 0; i < msgs.length; i += 200) {
        await store.appendMessages(
          box.id,
          folder.id,
          msgs
            .slice(i, i + 200)
            .map((m) => ({ bytes: m.bytes, flags: m.flags, internalDate: m.internalDate })),
        );
      }
    }
  } finally {
    await store.close();
  }
}
