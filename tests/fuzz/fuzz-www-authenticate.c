/* fuzz-www-authenticate: the WWW-Authenticate header of a registry's 401, as the registry
 * client reads it: the scheme, the challenge parameters and the token URL built from a Bearer
 * challenge (realm, scope, service), for a secure and an insecure registry.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "mv-registry-private.h"

static void
check_url (const char *challenge, const char *scope, gboolean insecure)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url
      = mv_registry_token_url (challenge, scope, "registry.example.com/org/model:v1", insecure,
                               "registry.example.com", &error);

  if (url == NULL)
    {
      g_assert (error != NULL);
      return;
    }
  /* The URL goes to libcurl as is: it must be https (or http on the registry's own host for
   * an insecure one), and hold no space or control character that could split a request. */
  g_assert (g_ascii_strncasecmp (url, "https://", 8) == 0
            || (insecure && g_ascii_strncasecmp (url, "http://", 7) == 0));
  for (const char *p = url; *p != '\0'; p++)
    g_assert ((guchar)*p > 0x20 && *p != 0x7f);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *challenge = mv_fuzz_strndup (data, size);
  static const char *const keys[] = { "realm", "service", "scope", "error", "" };

  mv_fuzz_init ();
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *value = mv_registry_challenge_param (challenge, keys[i]);
      if (value != NULL)
        g_assert (strchr (value, '"') == NULL);
    }
  if (g_ascii_strncasecmp (challenge, "Bearer", 6) == 0)
    {
      /* The scope as the client picks it: the challenge's, else pull on the repository; and
       * none, as a login asks. */
      g_autofree char *scope = mv_registry_challenge_param (challenge, "scope");
      const char *ours = scope != NULL ? scope : "repository:org/model:pull";
      check_url (challenge, ours, FALSE);
      check_url (challenge, ours, TRUE);
      check_url (challenge, "", FALSE);
    }
  return 0;
}
