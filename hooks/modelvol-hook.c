/* modelvol-hook: the OCI runtime hook's front door. Runtimes run it for nearly every
 * container (hooks.d hasBindMounts), so it links libc only: it reads the OCI state, and when
 * the state mentions neither the modelvol.io/mounts annotation nor a CRI-O artifact blob it
 * exits at once. Otherwise it hands the state, unchanged, to modelvol-hook-main (GLib,
 * json-glib, and libmodelvol when needed), which does the real parsing and all the work.
 *
 * The byte search is a filter, not a parser: runtimes write the state with Go's encoding/json
 * or yajl, neither of which escapes the ASCII of these markers, and anything that passes is
 * parsed strictly by modelvol-hook-main.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STATE_MAX (1024 * 1024)

static const char *const markers[] = {
  "modelvol.io/mounts", /* the annotation */
  "/artifacts/blobs/",  /* a CRI-O artifact blob in io.kubernetes.cri-o.Volumes */
};

static int
write_all (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      buf += n;
      len -= (size_t)n;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  static char state[STATE_MAX + 1];
  size_t len = 0;
  int wanted = 0, fd;
#ifdef MV_HOOK_BUILD_EXE
  char self[PATH_MAX];
#endif
  ssize_t n;
  const char *main_path = MV_HOOK_MAIN;

  (void)argc;
  while (len < sizeof state)
    {
      n = read (STDIN_FILENO, state + len, sizeof state - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          fprintf (stderr, "modelvol-hook: reading the OCI state on stdin: %s\n", strerror (errno));
          return 1;
        }
      if (n == 0)
        break;
      len += (size_t)n;
    }
  if (len > STATE_MAX)
    {
      fprintf (stderr,
               "modelvol-hook: the OCI state on stdin is larger than the limit of %d bytes\n",
               STATE_MAX);
      return 1;
    }
  for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
    if (memmem (state, len, markers[i], strlen (markers[i])) != NULL)
      wanted = 1;
  if (!wanted)
    return 0;

  fd = memfd_create ("oci-state", MFD_CLOEXEC);
  if (fd < 0 || write_all (fd, state, len) < 0 || lseek (fd, 0, SEEK_SET) < 0
      || dup2 (fd, STDIN_FILENO) < 0)
    {
      fprintf (stderr, "modelvol-hook: passing the OCI state on: %s\n", strerror (errno));
      return 1;
    }
  close (fd);
#ifdef MV_HOOK_BUILD_EXE
  /* The build tree's hook runs the build tree's main (tests); an installed one, the installed. */
  n = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (n > 0)
    {
      self[n] = '\0';
      if (strcmp (self, MV_HOOK_BUILD_EXE) == 0)
        main_path = MV_HOOK_BUILD_MAIN;
    }
#endif
  execv (main_path, argv);
  fprintf (stderr, "modelvol-hook: running %s: %s\n", main_path, strerror (errno));
  return 1;
}
