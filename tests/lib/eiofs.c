/* eiofs: a read-only passthrough FUSE filesystem that fails chosen reads of one file with EIO,
 * for tests: the kernel hands the reader a real -EIO, whatever process reads (the importer, or
 * the unpacker under its seccomp filter, which strace's error injection cannot reach).
 *
 *   eiofs SOURCE MOUNTPOINT [--file REL] [--offset N [--length L]] [--open] [--every N]
 *         [--hold FLAG] [--log FILE]
 *
 * Every file and directory under SOURCE appears under MOUNTPOINT, read-only, with direct I/O:
 * each read(2) and pread(2) reaches us as it was made (kernel copies, sendfile(2), still go
 * through the page cache, which retries a failed read one page at a time). For the file REL
 * (a path relative to SOURCE):
 *   --offset N  a read that reaches byte N or beyond fails with EIO, whole: a short read
 *               would tell the kernel that the file ends there (it would cut its cached
 *               size), where a disk with a bad sector fails the read; so the reader gets its
 *               error at the offset of the request that covers N (the log says which)
 *   --length L  only bytes N to N+L-1 are bad: reads beyond them succeed again
 *   --open      opening it fails with EIO
 *   --every N   every N-th read of it fails with EIO (counted over all its opens)
 *   --hold FLAG instead of failing, a read that meets the bad range waits until the file
 *               FLAG exists, then succeeds: the reader is provably in the middle of the file
 *               for as long as the test wants (logged "HOLD read REL at OFF by COMM")
 * Each injected error is one line in the --log file ("EIO read REL at OFF by COMM", "EIO open
 * REL by COMM": COMM names the reading thread), so that a test can tell its fault was met,
 * and by whom. Runs in the foreground, single-threaded, mounted with allow_other: the
 * unpacker runs as nobody (its reads of the fd it was given are not checked, but a stat or
 * an open of its own would be). It ends when unmounted.
 * SPDX-License-Identifier: Apache-2.0 */
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static struct
{
  int source_dfd;
  const char *file; /* relative to the source, no leading slash; NULL: no faults */
  uint64_t offset;  /* UINT64_MAX: none */
  uint64_t length;  /* of the bad range at offset */
  int fail_open;
  uint64_t every;   /* 0: none */
  uint64_t reads;   /* of the file, for --every */
  const char *hold; /* NULL: fail; else the flag file a held read waits for */
  FILE *log;
} eio = { .source_dfd = -1, .offset = UINT64_MAX, .length = UINT64_MAX };

/* Does [off, off + size) meet the bad range? */
static int
meets_bad_range (uint64_t off, size_t size)
{
  uint64_t end = eio.length > UINT64_MAX - eio.offset ? UINT64_MAX : eio.offset + eio.length;

  return size > 0 && off < end && off + size > eio.offset;
}

/* FUSE paths start with '/': the same path relative to the source directory. */
static const char *
relative (const char *path)
{
  while (*path == '/')
    path++;
  return *path ? path : ".";
}

static int
is_target (const char *path)
{
  return eio.file != NULL && strcmp (relative (path), eio.file) == 0;
}

/* The log line names the reader by its thread's name: the importer's threads, or the
 * unpacker (modelvol-unpack), which reads a plain tar layer's headers itself. */
static void
log_fault_as (const char *kind, const char *what, const char *path, int64_t off)
{
  char proc[64], comm[64] = "?";
  FILE *f;

  if (eio.log == NULL)
    return;
  snprintf (proc, sizeof proc, "/proc/%d/comm", (int)fuse_get_context ()->pid);
  f = fopen (proc, "re");
  if (f != NULL)
    {
      if (fgets (comm, sizeof comm, f) != NULL)
        comm[strcspn (comm, "\n")] = '\0';
      fclose (f);
    }
  if (off < 0)
    fprintf (eio.log, "%s %s %s by %s\n", kind, what, relative (path), comm);
  else
    fprintf (eio.log, "%s %s %s at %" PRId64 " by %s\n", kind, what, relative (path), off, comm);
  fflush (eio.log);
}

static void
log_fault (const char *what, const char *path, int64_t off)
{
  log_fault_as ("EIO", what, path, off);
}

static void *
eio_init (struct fuse_conn_info *conn, struct fuse_config *cfg)
{
  (void)conn;
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  return NULL;
}

static int
eio_getattr (const char *path, struct stat *st, struct fuse_file_info *fi)
{
  if (fi != NULL && fstat ((int)fi->fh, st) == 0)
    return 0;
  if (fstatat (eio.source_dfd, relative (path), st, AT_SYMLINK_NOFOLLOW) < 0)
    return -errno;
  return 0;
}

static int
eio_readlink (const char *path, char *buf, size_t size)
{
  ssize_t n;

  if (size == 0)
    return -EINVAL;
  n = readlinkat (eio.source_dfd, relative (path), buf, size - 1);
  if (n < 0)
    return -errno;
  buf[n] = '\0';
  return 0;
}

static int
eio_readdir (const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
             struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
  int fd = openat (eio.source_dfd, relative (path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir;
  struct dirent *d;

  (void)offset, (void)fi, (void)flags;
  if (fd < 0)
    return -errno;
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      int saved = errno;
      close (fd);
      return -saved;
    }
  while ((d = readdir (dir)) != NULL)
    if (filler (buf, d->d_name, NULL, 0, 0) != 0)
      break;
  closedir (dir);
  return 0;
}

static int
eio_open (const char *path, struct fuse_file_info *fi)
{
  int fd;

  if ((fi->flags & O_ACCMODE) != O_RDONLY)
    return -EROFS;
  if (is_target (path) && eio.fail_open)
    {
      log_fault ("open", path, -1);
      return -EIO;
    }
  fd = openat (eio.source_dfd, relative (path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -errno;
  fi->fh = (uint64_t)fd;
  fi->direct_io = 1;
  return 0;
}

static int
eio_read (const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
  ssize_t n;

  if (is_target (path))
    {
      eio.reads++;
      if (eio.hold != NULL && meets_bad_range ((uint64_t)off, size))
        {
          /* Once: after the flag, every read goes through. */
          log_fault_as ("HOLD", "read", path, off);
          while (access (eio.hold, F_OK) != 0)
            usleep (10000);
          eio.offset = UINT64_MAX;
        }
      else if (meets_bad_range ((uint64_t)off, size)
               || (eio.every > 0 && eio.reads % eio.every == 0))
        {
          log_fault ("read", path, off);
          return -EIO;
        }
    }
  n = pread ((int)fi->fh, buf, size, off);
  return n < 0 ? -errno : (int)n;
}

static int
eio_release (const char *path, struct fuse_file_info *fi)
{
  (void)path;
  close ((int)fi->fh);
  return 0;
}

static int
eio_statfs (const char *path, struct statvfs *sv)
{
  (void)path;
  return fstatvfs (eio.source_dfd, sv) < 0 ? -errno : 0;
}

static const struct fuse_operations eio_ops = {
  .init = eio_init,
  .getattr = eio_getattr,
  .readlink = eio_readlink,
  .readdir = eio_readdir,
  .open = eio_open,
  .read = eio_read,
  .release = eio_release,
  .statfs = eio_statfs,
};

static int
usage (void)
{
  fprintf (stderr, "usage: eiofs SOURCE MOUNTPOINT [--file REL] [--offset N [--length L]] "
                   "[--open] [--every N] [--hold FLAG] [--log FILE]\n");
  return 2;
}

static int
parse_u64 (const char *s, uint64_t *out)
{
  char *end = NULL;

  errno = 0;
  *out = strtoull (s, &end, 10);
  return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

int
main (int argc, char **argv)
{
  const char *source = NULL, *mountpoint = NULL;
  /* Foreground, one thread (reads counted in order), mounted for every user. */
  char *fuse_argv[] = { argv[0], NULL, (char *)"-f", (char *)"-s", (char *)"-o", NULL, NULL };
  int rc;

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--open") == 0)
        eio.fail_open = 1;
      else if (strcmp (a, "--hold") == 0 && i + 1 < argc)
        eio.hold = argv[++i];
      else if (strcmp (a, "--file") == 0 && i + 1 < argc)
        eio.file = relative (argv[++i]);
      else if (strcmp (a, "--offset") == 0 && i + 1 < argc)
        {
          if (!parse_u64 (argv[++i], &eio.offset))
            return usage ();
        }
      else if (strcmp (a, "--length") == 0 && i + 1 < argc)
        {
          if (!parse_u64 (argv[++i], &eio.length) || eio.length == 0)
            return usage ();
        }
      else if (strcmp (a, "--every") == 0 && i + 1 < argc)
        {
          if (!parse_u64 (argv[++i], &eio.every) || eio.every == 0)
            return usage ();
        }
      else if (strcmp (a, "--log") == 0 && i + 1 < argc)
        {
          eio.log = fopen (argv[++i], "ae");
          if (eio.log == NULL)
            {
              perror ("eiofs: opening the log");
              return 1;
            }
        }
      else if (a[0] == '-')
        return usage ();
      else if (source == NULL)
        source = a;
      else if (mountpoint == NULL)
        mountpoint = a;
      else
        return usage ();
    }
  if (source == NULL || mountpoint == NULL)
    return usage ();
  eio.source_dfd = open (source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (eio.source_dfd < 0)
    {
      perror ("eiofs: opening the source directory");
      return 1;
    }
  fuse_argv[1] = (char *)mountpoint;
  fuse_argv[5] = (char *)"ro,allow_other,fsname=eiofs,subtype=eiofs";
  rc = fuse_main ((int)(sizeof fuse_argv / sizeof fuse_argv[0]) - 1, fuse_argv, &eio_ops, NULL);
  close (eio.source_dfd);
  if (eio.log != NULL)
    fclose (eio.log);
  return rc;
}
