/* fuzz-config: ModelPack configs (the blob a manifest's config descriptor names): the lenient
 * parse and our checker for the ModelPack config JSON schema.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "fuzz-common.h"
#include "mv-config-private.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *json = (const char *)data;
  g_autoptr (GError) error = NULL;
  g_autoptr (MvModelConfig) config = NULL;
  g_autoptr (GPtrArray) findings = NULL;

  mv_fuzz_init ();
  config = mv_config_parse (json, size, &error);
  g_assert ((config == NULL) == (error != NULL));
  findings = mv_config_validate (json, size);
  g_assert (findings != NULL);
  /* Whatever does not parse is one finding; a config that parses may have any number. */
  if (config == NULL)
    g_assert (findings->len == 1);
  /* The findings are shown on a terminal: no raw control characters in them. */
  for (guint i = 0; i < findings->len; i++)
    for (const char *p = findings->pdata[i]; *p != '\0'; p++)
      g_assert ((guchar)*p >= 0x20 && *p != 0x7f);
  return 0;
}
