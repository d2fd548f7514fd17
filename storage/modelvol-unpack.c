/* modelvol-unpack: the sandboxed layer unpacker (see mv-sandbox.c). Started by libmodelvol
 * for every tar, tar+gzip and tar+zstd layer; not meant to be run by hand.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <locale.h>

#include "mv-sandbox-private.h"

int
main (int argc, char **argv)
{
  /* Before the seccomp filter: locale data is read from files. */
  setlocale (LC_ALL, "C.UTF-8");
  return mv_unpack_child_main (argc, argv);
}
