/* persist.h -- --dbpath: the store survives a restart of the process.
 *
 * Every oplog entry is appended to DIR/journal.bson as it happens (buffered, written at the end
 * of each event-loop turn); a clean shutdown writes DIR/snapshot.bson (collections, retained
 * oplog, clock) and empties the journal. Start-up loads the snapshot and replays the journal, so
 * after a crash only the last loop turn can be lost. This is test-tool durability: no fsync.
 *
 * Thread safety: event-loop thread only.
 */
#ifndef EMU_PERSIST_H
#define EMU_PERSIST_H

#include "store.h"

struct emu_persist;

/* Opens (creating if needed) dir, loads its data into store and hooks the store's journal.
 * Returns a new handle, or NULL with err set. store is borrowed and must outlive the handle. */
struct emu_persist *emu_persist_open(const char *dir, struct emu_store *store, char *err);

/* Writes buffered journal records. Returns 0, or -1 with err set. */
int emu_persist_flush(struct emu_persist *p, char *err);

/* Writes the snapshot, truncates the journal and frees p. Returns 0, or -1 with err set (p is
 * freed either way). */
int emu_persist_close(struct emu_persist *p, char *err);

#endif
