/* fuzz-reference: image references ("host[:port]/path[:tag][@digest]") from the CLI, the
 * modelvol.io/mounts annotation and registries.conf, with the invariant that a normalized
 * reference is a fixed point: it parses again to itself.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "mv-reference-private.h"

static void
check (const char *s, MvReferenceFlags flags)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvReference) ref = mv_reference_parse (s, flags, &error);
  g_autofree char *str = NULL;
  g_autofree char *repo = NULL;
  g_autoptr (MvReference) again = NULL;
  g_autofree char *again_str = NULL;

  if (ref == NULL)
    {
      g_assert (error != NULL);
      /* The input is shown escaped: no raw control characters in the message. */
      for (const char *p = error->message; *p != '\0'; p++)
        g_assert ((guchar)*p >= 0x20 && *p != 0x7f);
      return;
    }
  g_assert (ref->domain != NULL && *ref->domain != '\0');
  g_assert (ref->path != NULL && *ref->path != '\0');
  g_assert (flags & MV_REFERENCE_NO_DEFAULT_TAG || ref->tag != NULL || ref->digest != NULL);
  str = mv_reference_to_string (ref);
  repo = mv_reference_repository (ref);
  g_assert (g_str_has_prefix (str, repo));
  again = mv_reference_parse (str, flags, NULL);
  g_assert (again != NULL);
  again_str = mv_reference_to_string (again);
  g_assert_cmpstr (str, ==, again_str);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *s = mv_fuzz_strndup (data, size);

  mv_fuzz_init ();
  check (s, MV_REFERENCE_NONE);
  check (s, MV_REFERENCE_NO_DEFAULT_TAG);
  return 0;
}
