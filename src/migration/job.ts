// A migration as the web page will see it: one object per running copy, whose `snapshot()` answers
// "where are we" at any moment (state label, counts and bytes, the folder being copied, finished
// folders) and which emits every engine event as "event" (and "state", "progress", "folder" by type).
import { EventEmitter } from "node:events";
import {
  type FolderReport,
  type MigrationEvent,
  type MigrationOptions,
  type MigrationReport,
  type MigrationState,
  runMigration,
  STATE_LABELS,
} from "./engine.js";

export interface MigrationSnapshot {
  state: MigrationState;
  /** In preparazione, Copia in corso, Copiato, Errore. */
  label: string;
  error?: { code: string; message: string };
  messagesDone: number;
  messagesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  folder: string | null;
  folders: FolderReport[];
}

export class MigrationJob extends EventEmitter {
  private current: MigrationSnapshot = {
    state: "preparing",
    label: STATE_LABELS.preparing,
    messagesDone: 0,
    messagesTotal: 0,
    bytesDone: 0,
    bytesTotal: 0,
    folder: null,
    folders: [],
  };
  private running: Promise<MigrationReport> | null = null;

  start(options: Omit<MigrationOptions, "onEvent">): Promise<MigrationReport> {
    if (this.running) return this.running;
    this.running = runMigration({ ...options, onEvent: (e) => this.onEvent(e) });
    return this.running;
  }

  snapshot(): MigrationSnapshot {
    return { ...this.current, folders: [...this.current.folders] };
  }

  private onEvent(e: MigrationEvent): void {
    const s = this.current;
    if (e.type === "state") {
      s.state = e.state;
      s.label = e.label;
      if (e.error) s.error = e.error;
    } else if (e.type === "progress") {
      s.messagesDone = e.messagesDone;
      s.messagesTotal = e.messagesTotal;
      s.bytesDone = e.bytesDone;
      s.bytesTotal = e.bytesTotal;
      s.folder = e.folder;
    } else if (e.type === "folder") {
      s.folders.push({ ...e.report });
    }
    this.emit("event", e);
    this.emit(e.type, e);
  }
}
