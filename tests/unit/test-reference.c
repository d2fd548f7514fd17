/* Unit tests of plugin/mv-reference: the docker reference grammar and its normalization.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-reference-private.h"

#define HEX64 "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
#define D256 "sha256:" HEX64
#define D512 "sha512:" HEX64 HEX64

typedef struct
{
  const char *input;
  const char *domain;
  const char *path;
  const char *tag;    /* nullable */
  const char *digest; /* nullable */
  const char *normalized;
} Good;

/* As `docker pull`, containers/image and distribution/reference's ParseNormalizedNamed +
 * TagNameOnly would have them. */
static const Good good[] = {
  { "busybox", "docker.io", "library/busybox", "latest", NULL, "docker.io/library/busybox:latest" },
  { "busybox:1.36", "docker.io", "library/busybox", "1.36", NULL,
    "docker.io/library/busybox:1.36" },
  { "library/busybox", "docker.io", "library/busybox", "latest", NULL,
    "docker.io/library/busybox:latest" },
  { "docker.io/busybox", "docker.io", "library/busybox", "latest", NULL,
    "docker.io/library/busybox:latest" },
  { "docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", NULL,
    "docker.io/library/busybox:musl" },
  { "index.docker.io/busybox", "docker.io", "library/busybox", "latest", NULL,
    "docker.io/library/busybox:latest" },
  { "index.docker.io/org/model:v1", "docker.io", "org/model", "v1", NULL,
    "docker.io/org/model:v1" },
  { "org/model", "docker.io", "org/model", "latest", NULL, "docker.io/org/model:latest" },
  { "org/team/model:v2", "docker.io", "org/team/model", "v2", NULL, "docker.io/org/team/model:v2" },
  { "localhost/model", "localhost", "model", "latest", NULL, "localhost/model:latest" },
  { "localhost:5000/model:v1", "localhost:5000", "model", "v1", NULL, "localhost:5000/model:v1" },
  { "localhost:5000/org/model", "localhost:5000", "org/model", "latest", NULL,
    "localhost:5000/org/model:latest" },
  { "127.0.0.1:5000/org/model", "127.0.0.1:5000", "org/model", "latest", NULL,
    "127.0.0.1:5000/org/model:latest" },
  { "[::1]:5000/model:v1", "[::1]:5000", "model", "v1", NULL, "[::1]:5000/model:v1" },
  { "[2001:db8::1]/org/model", "[2001:db8::1]", "org/model", "latest", NULL,
    "[2001:db8::1]/org/model:latest" },
  { "registry.example.com/model", "registry.example.com", "model", "latest", NULL,
    "registry.example.com/model:latest" },
  { "Registry.Example.com/org/model", "Registry.Example.com", "org/model", "latest", NULL,
    "Registry.Example.com/org/model:latest" },
  /* An uppercase first component is a registry, whatever else it lacks. */
  { "Registry/org/model", "Registry", "org/model", "latest", NULL, "Registry/org/model:latest" },
  { "my-registry.local:443/a/b/c/d:tag", "my-registry.local:443", "a/b/c/d", "tag", NULL,
    "my-registry.local:443/a/b/c/d:tag" },
  { "ghcr.io/modelpack/model_a-b.c__d---e:v1.0-rc_1", "ghcr.io", "modelpack/model_a-b.c__d---e",
    "v1.0-rc_1", NULL, "ghcr.io/modelpack/model_a-b.c__d---e:v1.0-rc_1" },
  { "quay.io/org/model:_Tag.With-All_1", "quay.io", "org/model", "_Tag.With-All_1", NULL,
    "quay.io/org/model:_Tag.With-All_1" },
  { "quay.io/org/model@" D256, "quay.io", "org/model", NULL, D256, "quay.io/org/model@" D256 },
  { "quay.io/org/model:v1@" D256, "quay.io", "org/model", "v1", D256,
    "quay.io/org/model:v1@" D256 },
  { "busybox@" D512, "docker.io", "library/busybox", NULL, D512,
    "docker.io/library/busybox@" D512 },
  { "localhost:5000/model@" D256, "localhost:5000", "model", NULL, D256,
    "localhost:5000/model@" D256 },
  /* No '/': "localhost:5000" is the image "localhost" with tag "5000", as in docker. */
  { "localhost:5000", "docker.io", "library/localhost", "5000", NULL,
    "docker.io/library/localhost:5000" },
  { "0/1", "docker.io", "0/1", "latest", NULL, "docker.io/0/1:latest" },
};

static void
test_good (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvReference) ref = NULL;
      g_autoptr (MvReference) again = NULL;
      g_autofree char *s = NULL;
      g_autofree char *s2 = NULL;
      g_autofree char *repo = NULL;
      g_autofree char *expected_repo = NULL;

      g_test_message ("%s", good[i].input);
      ref = mv_reference_parse (good[i].input, MV_REFERENCE_NONE, &error);
      g_assert_no_error (error);
      g_assert_nonnull (ref);
      g_assert_cmpstr (ref->domain, ==, good[i].domain);
      g_assert_cmpstr (ref->path, ==, good[i].path);
      g_assert_cmpstr (ref->tag, ==, good[i].tag);
      g_assert_cmpstr (ref->digest, ==, good[i].digest);
      s = mv_reference_to_string (ref);
      g_assert_cmpstr (s, ==, good[i].normalized);
      repo = mv_reference_repository (ref);
      expected_repo = g_strconcat (good[i].domain, "/", good[i].path, NULL);
      g_assert_cmpstr (repo, ==, expected_repo);

      /* Normalizing is idempotent. */
      again = mv_reference_parse (s, MV_REFERENCE_NONE, &error);
      g_assert_no_error (error);
      s2 = mv_reference_to_string (again);
      g_assert_cmpstr (s2, ==, s);
    }
}

static void
test_no_default_tag (void)
{
  g_autoptr (MvReference) ref = mv_reference_parse ("busybox", MV_REFERENCE_NO_DEFAULT_TAG, NULL);
  g_autoptr (MvReference) tagged
      = mv_reference_parse ("busybox:1", MV_REFERENCE_NO_DEFAULT_TAG, NULL);
  g_autofree char *s = NULL;

  g_assert_nonnull (ref);
  g_assert_null (ref->tag);
  g_assert_null (ref->digest);
  s = mv_reference_to_string (ref);
  g_assert_cmpstr (s, ==, "docker.io/library/busybox");
  g_assert_cmpstr (tagged->tag, ==, "1");
}

static void
test_lengths (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tag128 = g_strnfill (128, 't');
  g_autofree char *tag129 = g_strnfill (129, 't');
  g_autofree char *ok_tag = g_strconcat ("busybox:", tag128, NULL);
  g_autofree char *bad_tag = g_strconcat ("busybox:", tag129, NULL);
  /* "example.com/" is 12 bytes: 243 more make the 255 limit. */
  g_autofree char *p243 = g_strnfill (243, 'p');
  g_autofree char *p244 = g_strnfill (244, 'p');
  g_autofree char *ok_name = g_strconcat ("example.com/", p243, NULL);
  g_autofree char *bad_name = g_strconcat ("example.com/", p244, NULL);
  /* "docker.io/library/" is 18 bytes: the limit applies to the normalized name. */
  g_autofree char *p237 = g_strnfill (237, 'p');
  g_autofree char *p238 = g_strnfill (238, 'p');
  g_autofree char *huge = g_strnfill (100000, 'a');
  MvReference *ref;

  ref = mv_reference_parse (ok_tag, 0, &error);
  g_assert_no_error (error);
  mv_reference_free (ref);
  ref = mv_reference_parse (ok_name, 0, &error);
  g_assert_no_error (error);
  mv_reference_free (ref);
  ref = mv_reference_parse (p237, 0, &error);
  g_assert_no_error (error);
  mv_reference_free (ref);

  g_assert_null (mv_reference_parse (bad_tag, 0, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_REFERENCE);
  g_assert_nonnull (strstr (error->message, "128"));
  g_clear_error (&error);
  g_assert_null (mv_reference_parse (bad_name, 0, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_REFERENCE);
  g_assert_nonnull (strstr (error->message, "255"));
  g_clear_error (&error);
  g_assert_null (mv_reference_parse (p238, 0, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_REFERENCE);
  g_clear_error (&error);
  g_assert_null (mv_reference_parse (huge, 0, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_REFERENCE);
  /* The message stays short. */
  g_assert_cmpuint (strlen (error->message), <, 600);
}

typedef struct
{
  const char *input;
  const char *reason; /* a substring of the message */
} Bad;

static const Bad bad[] = {
  { "", "empty reference" },
  { "Busybox", "lowercase" },
  { "org/Model", "lowercase" },
  { "docker.io/Org/model", "lowercase" },
  { "busybox:", "empty tag" },
  { "busybox:-tag", "tag must start" },
  { "busybox:.tag", "tag must start" },
  { "busybox:ta+g", "invalid character in the tag" },
  { "busybox:ta/g", NULL },
  { "busybox@", "invalid digest" },
  { "busybox@sha256:abc", "invalid digest" },
  { "busybox@sha256:../../x", "invalid digest" },
  { "busybox@sha256:1234567890ABCDEF1234567890abcdef1234567890abcdef1234567890abcdef",
    "invalid digest" },
  { "busybox@md5:d41d8cd98f00b204e9800998ecf8427e", "invalid digest" },
  { "busybox@sha256%3A" HEX64, "invalid digest" },
  { "busybox@" D256 "@" D256, "invalid digest" },
  { ":tag", "empty repository name" },
  { "@" D256, "empty repository name" },
  { "/busybox", "empty path component" },
  { "busybox/", "empty path component" },
  { "org//model", "empty path component" },
  { "example.com/", "empty path component" },
  { "a..b", "separator" },
  { "a___b", "separator" },
  { "a.-b", "separator" },
  { "a_-b", "separator" },
  { "a-", "separator" },
  { "a_", "separator" },
  { "a.", "separator" },
  { "-a", "invalid character" },
  { "_a", "invalid character" },
  { ".a", "invalid character" },
  { "org/mo%2Fdel", "invalid character" },
  { "org/../model", "invalid character" },
  { "host:abc/x", "port must be a number" },
  { "host:/x", "empty registry port" },
  { "host:99999/x", "above 65535" },
  { "-host.com/x", "invalid registry host" },
  { "host-.com/x", "invalid registry host" },
  { "host..com/x", "invalid registry host" },
  { "host.com./x", "invalid registry host" },
  { "ho_st.com/x", "invalid registry host" },
  { "[::1/x", "unterminated" },
  { "[zz::1]:5000/x", "IPv6" },
  { "[]:5000/x", "IPv6" },
  { "[::1]x/y", "after the IPv6 address" },
  { "[fe80::1%eth0]/x", "IPv6" },
  { HEX64, "image id" },
  { "busy box", "space" },
  { "busybox\n", "control" },
  { "busy\x1b[31mbox", "busy\\x1b[31mbox" },
  { "modèle", "non-ASCII" },
  { "busybox:tag\t", "control" },
};

static void
test_bad (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      MvReference *ref = mv_reference_parse (bad[i].input, MV_REFERENCE_NONE, &error);

      g_test_message ("bad #%" G_GSIZE_FORMAT ": expecting '%s'", i,
                      bad[i].reason ? bad[i].reason : "");
      g_assert_null (ref);
      g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_REFERENCE);
      g_assert_true (g_str_has_prefix (error->message, "invalid reference '"));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      for (const char *p = error->message; *p != '\0'; p++)
        g_assert_cmpint ((guchar)*p, >=, 0x20);
      if (bad[i].reason != NULL && strstr (error->message, bad[i].reason) == NULL)
        g_error ("message '%s' lacks '%s'", error->message, bad[i].reason);
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (mv_reference_parse (NULL, 0, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_REFERENCE);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reference/good", test_good);
  g_test_add_func ("/reference/no-default-tag", test_no_default_tag);
  g_test_add_func ("/reference/lengths", test_lengths);
  g_test_add_func ("/reference/bad", test_bad);
  return g_test_run ();
}
