/* persist.c -- --dbpath persistence (see persist.h). */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "wire.h"

struct emu_persist {
    char *journal_path;
    char *snapshot_path;
    int journal_fd;
    struct gw_buf pending;
    struct emu_store *store;
};

static void append_entry_fields(bson_t *rec, const struct emu_oplog_entry *e)
{
    BSON_APPEND_INT32(rec, "op", (int32_t)e->op);
    BSON_APPEND_INT64(rec, "ts", (int64_t)e->ts);
    BSON_APPEND_INT64(rec, "wall", e->wall_ms);
    if (e->db)
        BSON_APPEND_UTF8(rec, "db", e->db);
    if (e->coll)
        BSON_APPEND_UTF8(rec, "coll", e->coll);
    if (e->doc)
        BSON_APPEND_DOCUMENT(rec, "doc", e->doc);
    if (e->key)
        BSON_APPEND_DOCUMENT(rec, "key", e->key);
    if (e->desc)
        BSON_APPEND_DOCUMENT(rec, "desc", e->desc);
}

static bson_t *sub_doc(const bson_t *rec, const char *key)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, rec, key) || !BSON_ITER_HOLDS_DOCUMENT(&it))
        return NULL;
    uint32_t len;
    const uint8_t *data;
    bson_iter_document(&it, &len, &data);
    return bson_new_from_data(data, len);
}

static char *sub_str(const bson_t *rec, const char *key)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, rec, key) || !BSON_ITER_HOLDS_UTF8(&it))
        return NULL;
    return gw_strdup(bson_iter_utf8(&it, NULL));
}

static int64_t sub_int(const bson_t *rec, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, rec, key) ? bson_iter_as_int64(&it) : 0;
}

static void entry_from_record(const bson_t *rec, struct emu_oplog_entry *e)
{
    memset(e, 0, sizeof *e);
    e->op = (enum emu_op)sub_int(rec, "op");
    e->ts = (uint64_t)sub_int(rec, "ts");
    e->wall_ms = sub_int(rec, "wall");
    e->db = sub_str(rec, "db");
    e->coll = sub_str(rec, "coll");
    e->doc = sub_doc(rec, "doc");
    e->key = sub_doc(rec, "key");
    e->desc = sub_doc(rec, "desc");
}

static void journal_hook(void *ud, const struct emu_oplog_entry *e)
{
    struct emu_persist *p = ud;
    bson_t rec = BSON_INITIALIZER;
    append_entry_fields(&rec, e);
    gw_buf_append(&p->pending, bson_get_data(&rec), rec.len);
    bson_destroy(&rec);
}

static int read_file(const char *path, struct gw_buf *out, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : gw_set_error(err, "cannot open %s: %s", path, strerror(errno));
    for (;;) {
        char *dst = gw_buf_reserve(out, 1 << 16);
        ssize_t n = read(fd, dst, 1 << 16);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return gw_set_error(err, "cannot read %s: %s", path, strerror(errno));
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
    }
    close(fd);
    return 0;
}

typedef void (*record_fn)(struct emu_persist *p, const bson_t *rec);

/* Calls fn for every complete, valid record; a torn tail (crash mid-write) ends the file. */
static void each_record(struct emu_persist *p, const struct gw_buf *b, record_fn fn)
{
    size_t pos = 0;
    while (b->len - pos >= 5) {
        const uint8_t *d = (const uint8_t *)b->data + pos;
        uint32_t len =
            (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
        if (len < 5 || len > b->len - pos || !emu_wire_bson_valid(d, len, EMU_WIRE_MAX_DEPTH + 4))
            break;
        bson_t rec;
        bson_init_static(&rec, d, len);
        fn(p, &rec);
        pos += len;
    }
}

static void load_snapshot_record(struct emu_persist *p, const bson_t *rec)
{
    char *kind = sub_str(rec, "kind");
    if (!kind)
        return;
    if (!strcmp(kind, "meta")) {
        uint64_t last = (uint64_t)sub_int(rec, "lastTs");
        if (last > p->store->last_ts)
            p->store->last_ts = last;
        p->store->lost_before = (uint64_t)sub_int(rec, "lostBefore");
    } else if (!strcmp(kind, "coll") || !strcmp(kind, "doc")) {
        char *db = sub_str(rec, "db"), *coll = sub_str(rec, "coll");
        bson_t *doc = sub_doc(rec, "doc");
        if (db && coll && doc)
            emu_store_restore_doc(p->store, db, coll, doc);
        else if (db && coll)
            emu_store_restore_coll(p->store, db, coll);
        else if (doc)
            bson_destroy(doc);
        free(db);
        free(coll);
    } else if (!strcmp(kind, "oplog")) {
        struct emu_oplog_entry e;
        entry_from_record(rec, &e);
        emu_store_restore_entry(p->store, &e);
    }
    free(kind);
}

static void load_journal_record(struct emu_persist *p, const bson_t *rec)
{
    struct emu_oplog_entry e;
    entry_from_record(rec, &e);
    emu_store_replay(p->store, &e);
}

struct emu_persist *emu_persist_open(const char *dir, struct emu_store *store, char *err)
{
    struct emu_persist *p = gw_calloc(1, sizeof *p);
    struct gw_buf b = GW_BUF_INIT;
    p->journal_fd = -1;
    p->store = store;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        gw_set_error(err, "cannot create --dbpath %s: %s", dir, strerror(errno));
        goto fail;
    }
    size_t n = strlen(dir) + 32;
    p->journal_path = gw_malloc(n);
    p->snapshot_path = gw_malloc(n);
    snprintf(p->journal_path, n, "%s/journal.bson", dir);
    snprintf(p->snapshot_path, n, "%s/snapshot.bson", dir);
    if (read_file(p->snapshot_path, &b, err) < 0)
        goto fail;
    each_record(p, &b, load_snapshot_record);
    bool had_snapshot = b.len > 0;
    gw_buf_reset(&b);
    if (read_file(p->journal_path, &b, err) < 0)
        goto fail;
    /* Without a snapshot the journal holds the whole history since the directory was new. */
    if (!had_snapshot && b.len)
        store->lost_before = 0;
    each_record(p, &b, load_journal_record);
    gw_buf_free(&b);
    p->journal_fd = open(p->journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (p->journal_fd < 0) {
        gw_set_error(err, "cannot open %s: %s", p->journal_path, strerror(errno));
        goto fail;
    }
    store->journal = journal_hook;
    store->journal_ud = p;
    return p;
fail:
    gw_buf_free(&b);
    if (p->journal_fd >= 0)
        close(p->journal_fd);
    free(p->journal_path);
    free(p->snapshot_path);
    free(p);
    return NULL;
}

static int write_all(int fd, const char *data, size_t len, const char *path, char *err)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return gw_set_error(err, "cannot write %s: %s", path, strerror(errno));
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int emu_persist_flush(struct emu_persist *p, char *err)
{
    if (!p->pending.len)
        return 0;
    int rc = write_all(p->journal_fd, p->pending.data, p->pending.len, p->journal_path, err);
    gw_buf_reset(&p->pending);
    return rc;
}

static void put_record(struct gw_buf *b, bson_t *rec)
{
    gw_buf_append(b, bson_get_data(rec), rec->len);
    bson_destroy(rec);
}

static int write_snapshot(struct emu_persist *p, char *err)
{
    struct emu_store *s = p->store;
    struct gw_buf b = GW_BUF_INIT;
    bson_t rec = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&rec, "kind", "meta");
    BSON_APPEND_INT64(&rec, "lastTs", (int64_t)s->last_ts);
    BSON_APPEND_INT64(&rec, "lostBefore", (int64_t)s->lost_before);
    put_record(&b, &rec);
    for (size_t i = 0; i < s->ncolls; i++) {
        struct emu_coll *c = s->colls[i];
        bson_init(&rec);
        BSON_APPEND_UTF8(&rec, "kind", "coll");
        BSON_APPEND_UTF8(&rec, "db", c->db);
        BSON_APPEND_UTF8(&rec, "coll", c->name);
        put_record(&b, &rec);
        for (size_t j = 0; j < c->nslots; j++) {
            if (!c->docs[j])
                continue;
            bson_init(&rec);
            BSON_APPEND_UTF8(&rec, "kind", "doc");
            BSON_APPEND_UTF8(&rec, "db", c->db);
            BSON_APPEND_UTF8(&rec, "coll", c->name);
            BSON_APPEND_DOCUMENT(&rec, "doc", c->docs[j]);
            put_record(&b, &rec);
        }
    }
    for (uint64_t seq = emu_store_first_seq(s); seq < s->next_seq; seq++) {
        bson_init(&rec);
        BSON_APPEND_UTF8(&rec, "kind", "oplog");
        append_entry_fields(&rec, emu_store_entry(s, seq));
        put_record(&b, &rec);
    }
    size_t n = strlen(p->snapshot_path) + 8;
    char *tmp = gw_malloc(n);
    snprintf(tmp, n, "%s.tmp", p->snapshot_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? gw_set_error(err, "cannot create %s: %s", tmp, strerror(errno))
                    : write_all(fd, b.data ? b.data : "", b.len, tmp, err);
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, p->snapshot_path) < 0)
        rc = gw_set_error(err, "cannot rename %s: %s", tmp, strerror(errno));
    free(tmp);
    gw_buf_free(&b);
    return rc;
}

int emu_persist_close(struct emu_persist *p, char *err)
{
    int rc = emu_persist_flush(p, err);
    if (rc == 0 && (rc = write_snapshot(p, err)) == 0 && ftruncate(p->journal_fd, 0) < 0)
        rc = gw_set_error(err, "cannot truncate %s: %s", p->journal_path, strerror(errno));
    p->store->journal = NULL;
    close(p->journal_fd);
    gw_buf_free(&p->pending);
    free(p->journal_path);
    free(p->snapshot_path);
    free(p);
    return rc;
}
