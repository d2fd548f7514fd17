/* modelvol-example: the libmodelvol C API from a runtime integrator's side, as in
 * docs/integrator-guide.md. Uses only <modelvol.h> and GLib.
 *
 *   modelvol-example STORE-ROOT OCI-LAYOUT-DIR [ENTRY]
 *
 * Opens (creates) the store, imports the ModelPack model of an OCI image layout, prints what
 * the store knows about it and its shared checkout, mounts it read-only at a temporary
 * directory (then unmounts it), then does what an OCI hook does for a container: mounts the
 * model into the mount namespace of a process (a child of ours in a mount namespace of its
 * own stands in for the container), lists the container's uses and releases them.
 * Mounting needs root. Build: cc modelvol-example.c $(pkg-config --cflags --libs modelvol)
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <modelvol.h>

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Prints the sorted names in @dir, one line each, under @label. */
static void
print_dir (const char *label, const char *dir)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  DIR *d = opendir (dir);
  struct dirent *e;

  if (d == NULL)
    {
      printf ("%s: cannot open %s: %s\n", label, dir, g_strerror (errno));
      return;
    }
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (e->d_name));
  closedir (d);
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    printf ("%s: %s\n", label, (const char *)names->pdata[i]);
}

/* The stand-in container: a child in a mount namespace of its own that waits until @wait_fd
 * is closed. Returns its pid once the namespace exists, or -1. */
static pid_t
start_container (int *out_wait_fd)
{
  int ready[2], hold[2];
  char c;
  pid_t pid;

  if (pipe2 (ready, O_CLOEXEC) < 0 || pipe2 (hold, O_CLOEXEC) < 0)
    return -1;
  pid = fork ();
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      close (ready[0]);
      close (hold[1]);
      if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        _exit (1);
      if (write (ready[1], "r", 1) != 1)
        _exit (1);
      while (read (hold[0], &c, 1) > 0)
        ;
      _exit (0);
    }
  close (ready[1]);
  close (hold[0]);
  if (read (ready[0], &c, 1) != 1)
    {
      close (ready[0]);
      close (hold[1]);
      waitpid (pid, NULL, 0);
      return -1;
    }
  close (ready[0]);
  *out_wait_fd = hold[1];
  return pid;
}

static int
fail (const char *what, GError *error)
{
  fprintf (stderr, "modelvol-example: %s: %s\n", what, error->message);
  return 1;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvStore) store = NULL;
  g_autoptr (MvModelInfo) info = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *checkout = NULL;
  g_autofree char *container_id = NULL;
  g_auto (GStrv) uses = NULL;
  char mount_dir[] = "/tmp/modelvol-example-mount.XXXXXX";
  char rootfs[] = "/tmp/modelvol-example-rootfs.XXXXXX";
  guint released = 0;
  int wait_fd = -1;
  pid_t pid;
  gboolean ok;

  if (argc < 3 || argc > 4)
    {
      fprintf (stderr, "usage: modelvol-example STORE-ROOT OCI-LAYOUT-DIR [ENTRY]\n");
      return 2;
    }
  printf ("libmodelvol %s\n", mv_version ());
#if !MV_CHECK_VERSION(0, 2, 0)
#error "modelvol-example needs the libmodelvol 0.2 headers (signature verdicts)"
#endif
  /* Built against these headers; a library older than them lacks what they declare. */
  printf ("headers %s\n", MV_VERSION_S);

  /* 1. Open the store (created if missing, mode 0700). */
  store = mv_store_open (argv[1], MV_STORE_OPEN_CREATE, NULL, &error);
  if (store == NULL)
    return fail ("opening the store", error);
  printf ("store: %s\n", mv_store_get_root (store));

  /* 2. Import the model. NULL entry: the layout's only one; NULL name: its ref name when
   *    that is a full reference. mv_store_pull() takes a registry reference instead. */
  if (!mv_store_import_layout (store, argv[2], argc > 3 ? argv[3] : NULL, NULL, &digest, NULL,
                               &error))
    return fail ("importing", error);
  printf ("imported: %s\n", digest);

  /* 3. What the store knows about it. */
  info = mv_store_get_model (store, digest, &error);
  if (info == NULL)
    return fail ("reading the model", error);
  for (char **n = info->names; *n != NULL; n++)
    printf ("name: %s\n", *n);
  printf ("artifact type: %s\n", info->artifact_type);
  printf ("layers: %u\n", info->n_layers);
  printf ("files: %" G_GUINT64_FORMAT "\n", info->n_files);
  printf ("bytes: %" G_GUINT64_FORMAT "\n", info->logical_bytes);

  /* 4. The shared read-only checkout (hardlinks into the store: never write to it). */
  if (!mv_store_checkout (store, digest, &checkout, NULL, &error))
    return fail ("checking out", error);
  printf ("checkout: %s\n", checkout);

  /* 5. A host mount (CSI drivers, debugging): read-only, nosuid, nodev, private. The use
   *    record keeps rm and prune off the model until mv_store_umount(). */
  if (mkdtemp (mount_dir) == NULL)
    {
      perror ("modelvol-example: mkdtemp");
      return 1;
    }
  ok = mv_store_mount (store, digest, NULL, mount_dir, MV_MOUNT_NONE, NULL, &error);
  if (ok)
    {
      print_dir ("mounted", mount_dir);
      ok = mv_store_umount (store, mount_dir, &error);
    }
  rmdir (mount_dir);
  if (!ok)
    return fail ("mounting at a host directory", error);
  printf ("unmounted: %s\n", mount_dir);

  /* 6. Into a container, as an OCI createRuntime hook does: the container's id and pid (from
   *    the OCI state) and its rootfs as seen in its mount namespace. */
  if (mkdtemp (rootfs) == NULL)
    {
      perror ("modelvol-example: mkdtemp");
      return 1;
    }
  pid = start_container (&wait_fd);
  if (pid < 0)
    {
      perror ("modelvol-example: starting the stand-in container");
      rmdir (rootfs);
      return 1;
    }
  container_id = g_strdup_printf ("modelvol-example-%d", (int)pid);
  ok = mv_store_mount_in_container (store, digest, NULL, container_id, pid, rootfs, "/models",
                                    MV_MOUNT_NOEXEC, NULL, &error);
  if (ok)
    {
      /* What the container sees: its mount namespace, through /proc/PID/root. */
      g_autofree char *seen = g_strdup_printf ("/proc/%d/root%s/models", (int)pid, rootfs);
      print_dir ("in container", seen);
      /* 7. The container's uses (what poststop will release). */
      uses = mv_store_list_container_uses (store, container_id, &error);
      ok = uses != NULL;
      for (guint i = 0; ok && uses[i] != NULL; i++)
        printf ("use: %s %s\n", container_id, uses[i]);
    }
  /* The container stops: its mounts go with its mount namespace. */
  close (wait_fd);
  waitpid (pid, NULL, 0);
  /* The mount point the library made inside the rootfs (the container's namespace shares
   * this directory with ours): remove it with the rootfs. */
  {
    g_autofree char *models = g_strdup_printf ("%s/models", rootfs);
    rmdir (models);
    rmdir (rootfs);
  }
  if (!ok)
    {
      (void)mv_store_release_container (store, container_id, NULL, NULL);
      return fail ("mounting into the container", error);
    }

  /* 8. Release, as an OCI poststop hook does. */
  if (!mv_store_release_container (store, container_id, &released, &error))
    return fail ("releasing", error);
  printf ("released: %u\n", released);
  g_clear_pointer (&uses, g_strfreev);
  uses = mv_store_list_container_uses (store, container_id, &error);
  if (uses == NULL)
    return fail ("listing uses", error);
  printf ("uses after release: %u\n", g_strv_length (uses));
  return 0;
}
