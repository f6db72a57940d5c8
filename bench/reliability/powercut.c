/* Power-cut model for the terminal's SQLite files (LD_PRELOAD shim, issue 15).
 *
 * Every write to a file under $STALLPAY_CUT_DIR (except SQLite's -shm, which is rebuilt on open) is logged to
 * $STALLPAY_CUT_LOG with the bytes it replaced and the bytes it wrote; every fsync/fdatasync logs a sync mark.
 * At the $STALLPAY_CUT_AFTER-th write the process dies at once (the power is gone). The harness then rolls
 * back the writes no sync made durable, keeping a random subset of them (a disk may have written some, in any
 * order): exactly what a power cut can leave on an SD card. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static const char *cut_dir;
static int log_fd = -1;
static long cut_after = -1, writes = 0;

static void init(void) {
    if (real_write) return;
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    cut_dir = getenv("STALLPAY_CUT_DIR");
    const char *after = getenv("STALLPAY_CUT_AFTER");
    if (after) cut_after = atol(after);
    const char *log = getenv("STALLPAY_CUT_LOG");
    if (log) log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* the watched file's path, or 0 */
static int watched(int fd, char *path, size_t size) {
    if (!cut_dir || log_fd < 0 || fd == log_fd) return 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, size - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    size_t dl = strlen(cut_dir);
    if (strncmp(path, cut_dir, dl) != 0) return 0;
    if (n > 4 && strcmp(path + n - 4, "-shm") == 0) return 0;
    return 1;
}

static void put(const void *data, size_t len) {
    const char *p = data;
    while (len) {
        ssize_t n = real_write(log_fd, p, len);
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

/* record: 'W' path_len path offset old_size old_len old new_len new | 'S' path_len path | 'T' path_len path
 * new_size old_size old_len old */
static void record_write(const char *path, int fd, const void *buf, size_t count, off_t offset) {
    struct stat st;
    fstat(fd, &st);
    int64_t off = offset, old_size = st.st_size, old_len = 0, new_len = (int64_t)count;
    if (off < old_size) old_len = (old_size - off) < (int64_t)count ? (old_size - off) : (int64_t)count;
    char *old = malloc(old_len ? old_len : 1);
    if (old_len) pread(fd, old, old_len, off);
    uint32_t pl = strlen(path);
    put("W", 1); put(&pl, 4); put(path, pl); put(&off, 8); put(&old_size, 8); put(&old_len, 8);
    put(old, old_len); put(&new_len, 8); put(buf, count);
    free(old);
}

static void tick(void) {
    writes++;
    if (cut_after > 0 && writes >= cut_after) _exit(137);  /* the power is gone before this write lands */
}

ssize_t write(int fd, const void *buf, size_t count) {
    init();
    char path[4096];
    if (watched(fd, path, sizeof path)) {
        tick();
        record_write(path, fd, buf, count, lseek(fd, 0, SEEK_CUR));
    }
    return real_write(fd, buf, count);
}

static ssize_t logged_pwrite(ssize_t (*real)(int, const void *, size_t, off_t), int fd, const void *buf,
                             size_t count, off_t offset) {
    char path[4096];
    if (watched(fd, path, sizeof path)) {
        tick();
        record_write(path, fd, buf, count, offset);
    }
    return real(fd, buf, count, offset);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    init();
    return logged_pwrite(real_pwrite, fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    init();
    return logged_pwrite(real_pwrite64, fd, buf, count, offset);
}

static void record_sync(int fd) {
    char path[4096];
    if (!watched(fd, path, sizeof path)) return;
    uint32_t pl = strlen(path);
    put("S", 1); put(&pl, 4); put(path, pl);
}

int fsync(int fd) {
    init();
    int rc = real_fsync(fd);
    if (rc == 0) record_sync(fd);
    return rc;
}

int fdatasync(int fd) {
    init();
    int rc = real_fdatasync(fd);
    if (rc == 0) record_sync(fd);
    return rc;
}

static int logged_truncate(int (*real)(int, off_t), int fd, off_t length) {
    char path[4096];
    if (watched(fd, path, sizeof path)) {
        tick();
        struct stat st;
        fstat(fd, &st);
        int64_t new_size = length, old_size = st.st_size, old_len = old_size > new_size ? old_size - new_size : 0;
        char *old = malloc(old_len ? old_len : 1);
        if (old_len) pread(fd, old, old_len, new_size);
        uint32_t pl = strlen(path);
        put("T", 1); put(&pl, 4); put(path, pl); put(&new_size, 8); put(&old_size, 8); put(&old_len, 8);
        put(old, old_len);
        free(old);
    }
    return real(fd, length);
}

int ftruncate(int fd, off_t length) {
    init();
    return logged_truncate(real_ftruncate, fd, length);
}

int ftruncate64(int fd, off_t length) {
    init();
    return logged_truncate(real_ftruncate64, fd, length);
}
