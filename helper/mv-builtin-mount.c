/* modelvol mount MODEL TARGET / modelvol umount TARGET
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

MV_BUILTIN (mount)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL TARGET");
  g_autoptr (MvStore) store = NULL;
  g_autofree char *subpath = NULL;
  gboolean noexec = FALSE;
  GOptionEntry entries[] = {
    { "subpath", 0, 0, G_OPTION_ARG_FILENAME, &subpath, "Mount this directory of the model",
      "DIR" },
    { "noexec", 0, 0, G_OPTION_ARG_NONE, &noexec, "Also mount noexec", NULL },
    { NULL },
  };

  g_option_context_set_summary (context,
                                "Mount a model read-only (nosuid, nodev, private) at an existing "
                                "directory, and keep prune and rm off it until 'modelvol umount'.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 3)
    return mv_usage_error (context, error, "mount takes MODEL and TARGET");
  return mv_store_mount (store, argv[1], subpath, argv[2], noexec ? MV_MOUNT_NOEXEC : MV_MOUNT_NONE,
                         cancellable, error);
}

MV_BUILTIN (umount)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("TARGET");
  g_autoptr (MvStore) store = NULL;

  g_option_context_set_summary (context, "Unmount a model mounted by 'modelvol mount'.");
  store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 2)
    return mv_usage_error (context, error, "umount takes one TARGET");
  return mv_store_umount (store, argv[1], error);
}
