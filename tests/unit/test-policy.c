/* Unit tests of plugin/mv-policy (containers-policy.json, registries.d) and plugin/mv-verdict
 * (the verdicts kept with models). Policies are written inline with ' for " (q2j()); key
 * files and registries.d directories are made in a g_dir_make_tmp() directory.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "mv-error-private.h"
#include "mv-policy-private.h"
#include "mv-verdict-private.h"

#define HEX64 "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
#define HEX64B "abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890"
#define D256 "sha256:" HEX64
#define D256B "sha256:" HEX64B
#define POLICY_PATH "/etc/test/policy.json"

/* "AAECAwQFBgcICQ==": the DER of the fake keys below is bytes 0..9, or 10..19 for key B. */
#define KEY_A_B64 "AAECAwQFBgcICQ=="
#define KEY_B_B64 "CgsMDQ4PEBESEw=="
#define PEM_A "-----BEGIN PUBLIC KEY-----\n" KEY_A_B64 "\n-----END PUBLIC KEY-----\n"
#define PEM_B "-----BEGIN PUBLIC KEY-----\n" KEY_B_B64 "\n-----END PUBLIC KEY-----\n"
/* base64 of PEM_A and PEM_B, as keyData takes them */
static char *pem_a_b64, *pem_b_b64;

/* Helpers */

/* @q with every ' made ": JSON that reads in C. */
static char *
q2j (const char *q)
{
  char *s = g_strdup (q);
  for (char *p = s; *p != '\0'; p++)
    if (*p == '\'')
      *p = '"';
  return s;
}

static MvPolicy *
parse_q (const char *q, GError **error)
{
  g_autofree char *json = q2j (q);
  return mv_policy_parse (json, strlen (json), POLICY_PATH, error);
}

static MvPolicy *
parse_ok (const char *q)
{
  g_autoptr (GError) error = NULL;
  MvPolicy *policy = parse_q (q, &error);

  if (policy == NULL)
    g_test_message ("policy: %s", q);
  g_assert_no_error (error);
  g_assert_nonnull (policy);
  return policy;
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (needle == NULL)
    return;
  if (strstr (haystack, needle) == NULL)
    g_error ("expected \"%s\" in \"%s\"", needle, haystack);
}

static char *
fingerprint_of (const char *der_b64)
{
  gsize len = 0;
  g_autofree guchar *der = g_base64_decode (der_b64, &len);
  g_autofree char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der, len);
  return g_strconcat ("SHA256:", hex, NULL);
}

static char *
tmp_dir_new (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("test-policy-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const char *path)
{
  GDir *d;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      (void)g_unlink (path);
      return;
    }
  g_chmod (path, 0700);
  d = g_dir_open (path, 0, NULL);
  if (d != NULL)
    {
      const char *name;
      while ((name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_dir_close (d);
    }
  (void)g_rmdir (path);
}

static char *
write_file (const char *dir, const char *name, const char *contents, gssize len)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
  return path;
}

static gboolean
is_root (void)
{
  return geteuid () == 0;
}

/* Scopes: the most specific wins */

/* A policy whose default is reject and every scope insecureAcceptAnything; @scopes[0..n). */
static MvPolicy *
policy_with_scopes (const char *const *scopes, gsize n)
{
  g_autoptr (GString) q = g_string_new ("{'default':[{'type':'reject'}],'transports':{'docker':{");
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  MvPolicy *policy;

  for (gsize i = 0; i < n; i++)
    g_string_append_printf (q, "%s'%s':[{'type':'insecureAcceptAnything'}]", i ? "," : "",
                            scopes[i]);
  g_string_append (q, "}}}");
  json = q2j (q->str);
  policy = mv_policy_parse (json, strlen (json), POLICY_PATH, &error);
  g_assert_no_error (error);
  return policy;
}

/* @reference is looked up under @chain (most specific first, NULL-terminated; "" and NULL for
 * default are implied at its end), with @decoys, which must never apply, always present:
 * with chain[i..] in the file, chain[i] applies. */
static void
check_chain (const char *reference, const char *const *chain, const char *const *decoys)
{
  gsize n_chain = g_strv_length ((char **)chain);
  gsize n_decoys = decoys != NULL ? g_strv_length ((char **)decoys) : 0;

  g_test_message ("reference %s", reference);
  for (gsize i = 0; i <= n_chain; i++)
    {
      g_autoptr (GPtrArray) scopes = g_ptr_array_new ();
      g_autoptr (MvPolicy) policy = NULL;
      const char *scope = "unset";
      const MvPolicyRequirement *req;
      GPtrArray *reqs;

      for (gsize j = i; j < n_chain; j++)
        g_ptr_array_add (scopes, (gpointer)chain[j]);
      for (gsize j = 0; j < n_decoys; j++)
        g_ptr_array_add (scopes, (gpointer)decoys[j]);
      policy = policy_with_scopes ((const char *const *)scopes->pdata, scopes->len);
      reqs = mv_policy_lookup (policy, reference, &scope);
      g_assert_nonnull (reqs);
      g_assert_cmpuint (reqs->len, ==, 1);
      req = reqs->pdata[0];
      if (i < n_chain)
        {
          g_assert_cmpstr (scope, ==, chain[i]);
          g_assert_cmpint (req->kind, ==, MV_POLICY_ACCEPT_ANYTHING);
        }
      else
        {
          /* Only decoys left: the default applies. */
          g_assert_null (scope);
          g_assert_cmpint (req->kind, ==, MV_POLICY_REJECT);
        }
    }
}

static void
test_scope_tag (void)
{
  static const char *const chain[] = { "registry.example.com:5000/a/b/c:v1",
                                       "registry.example.com:5000/a/b/c",
                                       "registry.example.com:5000/a/b",
                                       "registry.example.com:5000/a",
                                       "registry.example.com:5000",
                                       "*.example.com",
                                       "*.com",
                                       "",
                                       NULL };
  static const char *const decoys[] = { "registry.example.com:5000/a/b/c:v2",
                                        "registry.example.com:5000/a/b/c@" D256,
                                        "registry.example.com:5000/a/b/cd",
                                        "registry.example.com:5000/a/bb",
                                        "registry.example.com:5000/a/b/c/d",
                                        "registry.example.com:5001",
                                        "registry.example.com",
                                        "example.com",
                                        "*.registry.example.com",
                                        "*.other.com",
                                        "*.org",
                                        NULL };
  check_chain ("registry.example.com:5000/a/b/c:v1", chain, decoys);
}

static void
test_scope_digest (void)
{
  static const char *const chain[]
      = { "quay.io/org/model@" D256, "quay.io/org/model", "quay.io/org", "quay.io", "*.io", NULL };
  static const char *const decoys[]
      = { "quay.io/org/model@" D256B, "quay.io/org/model:latest", "quay.io/or", NULL };
  check_chain ("quay.io/org/model@" D256, chain, decoys);
}

static void
test_scope_tag_and_digest (void)
{
  static const char *const chain[] = { "quay.io/org/model:v1@" D256,
                                       "quay.io/org/model:v1",
                                       "quay.io/org/model@" D256,
                                       "quay.io/org/model",
                                       "quay.io",
                                       NULL };
  static const char *const decoys[] = { "quay.io/org/model:v2", "quay.io/org/model@" D256B, NULL };
  check_chain ("quay.io/org/model:v1@" D256, chain, decoys);
}

static void
test_scope_wildcards (void)
{
  static const char *const sub_chain[] = { "*.sub.example.com", "*.example.com", "*.com", NULL };
  /* A wildcard is for names under the domain, not the domain itself. */
  static const char *const self_chain[] = { "*.example.com", NULL };
  static const char *const self_decoys[] = { "*.sub.example.com", NULL };
  static const char *const docker_chain[] = { "docker.io/library/busybox:latest",
                                              "docker.io/library/busybox",
                                              "docker.io/library",
                                              "docker.io",
                                              "*.io",
                                              NULL };
  static const char *const docker_decoys[] = { "*.docker.io", NULL };
  static const char *const v6_chain[] = { "[::1]:5000/m", "[::1]:5000", NULL };
  static const char *const localhost_chain[] = { "localhost/m:v1", "localhost", NULL };
  /* docker.io/busybox is no repository (that is docker.io/library/busybox) but a namespace. */
  static const char *const ns_chain[] = { "docker.io/busybox/m", "docker.io/busybox", NULL };
  static const char *const ns_decoys[] = { "docker.io/library/busybox", NULL };

  check_chain ("x.sub.example.com/m:v1", sub_chain, NULL);
  check_chain ("sub.example.com/m:v1", self_chain, self_decoys);
  check_chain ("docker.io/library/busybox:latest", docker_chain, docker_decoys);
  check_chain ("[::1]:5000/m:v1", v6_chain, NULL);
  check_chain ("localhost/m:v1", localhost_chain, NULL);
  check_chain ("docker.io/busybox/m:v1", ns_chain, ns_decoys);
}

static void
test_scope_default (void)
{
  g_autoptr (MvPolicy) policy
      = parse_ok ("{'default':[{'type':'insecureAcceptAnything'},{'type':'reject'}],"
                  "'transports':{'docker':{'quay.io':[{'type':'reject'}]},"
                  "'atomic':{'':[{'type':'reject'}]},'docker-daemon':{'':[{'type':'reject'}]}}}");
  g_autoptr (MvPolicy) with_empty = parse_ok ("{'default':[{'type':'reject'}],'transports':{'"
                                              "docker':{'':[{'type':'insecureAcceptAnything'}]}}}");
  const char *scope = "unset";
  GPtrArray *reqs;

  /* Other transports do not apply to docker references. */
  reqs = mv_policy_lookup (policy, "ghcr.io/a/b:v1", &scope);
  g_assert_null (scope);
  g_assert_cmpuint (reqs->len, ==, 2);
  g_assert_cmpint (((MvPolicyRequirement *)reqs->pdata[0])->kind, ==, MV_POLICY_ACCEPT_ANYTHING);
  g_assert_cmpint (((MvPolicyRequirement *)reqs->pdata[1])->kind, ==, MV_POLICY_REJECT);
  g_assert_cmpstr (((MvPolicyRequirement *)reqs->pdata[1])->type, ==, "reject");
  /* out_scope is optional */
  g_assert_true (mv_policy_lookup (policy, "quay.io/a:v1", NULL)
                 != mv_policy_lookup (policy, "ghcr.io/a:v1", NULL));
  /* A string that is not a reference: only "" and default can apply. */
  scope = "unset";
  reqs = mv_policy_lookup (policy, "NOT A REFERENCE", &scope);
  g_assert_null (scope);
  g_assert_cmpuint (reqs->len, ==, 2);
  reqs = mv_policy_lookup (with_empty, "quay.io/x:v1", &scope);
  g_assert_cmpstr (scope, ==, "");
  g_assert_cmpint (((MvPolicyRequirement *)reqs->pdata[0])->kind, ==, MV_POLICY_ACCEPT_ANYTHING);
  reqs = mv_policy_lookup (with_empty, "%%%", &scope);
  g_assert_cmpstr (scope, ==, "");
  g_assert_cmpstr (mv_policy_default_path (), ==, "/etc/containers/policy.json");
}

/* Valid scopes, including every form check_chain() did not */
static void
test_scope_valid_forms (void)
{
  static const char *const scopes[] = { "Registry.Example.com",  "Registry.Example.com/org",
                                        "[2001:db8::1]",         "[::1]:5000/a/b",
                                        "localhost:5000/a/b:v1", "127.0.0.1:5000/m@" D256,
                                        "quay.io/a:v1@" D256,    "*.io",
                                        "*.a-b.example" };
  g_autoptr (MvPolicy) policy = policy_with_scopes (scopes, G_N_ELEMENTS (scopes));
  const char *scope = NULL;

  mv_policy_lookup (policy, "Registry.Example.com/org/m:v1", &scope);
  g_assert_cmpstr (scope, ==, "Registry.Example.com/org");
  mv_policy_lookup (policy, "registry.example.com/org/m:v1", &scope);
  g_assert_null (scope); /* host names are compared as written, as containers/image does */
  mv_policy_lookup (policy, "127.0.0.1:5000/m@" D256, &scope);
  g_assert_cmpstr (scope, ==, "127.0.0.1:5000/m@" D256);
  mv_policy_lookup (policy, "x.a-b.example/m:v1", &scope);
  g_assert_cmpstr (scope, ==, "*.a-b.example");
}

/* Requirements */

static void
test_requirement_types (void)
{
  g_autofree char *q = g_strdup_printf (
      "{'default':[{'type':'insecureAcceptAnything'}],'transports':{'docker':{"
      "'a.io':[{'type':'reject'}],"
      "'b.io':[{'type':'sigstoreSigned','keyData':'%s'}],"
      "'c.io':[{'type':'sigstoreSigned','keyDatas':['%s','%s'],'rekorPublicKeyData':'%s'}],"
      "'d.io':[{'type':'signedBy','keyType':'GPGKeys','keyPath':'/nonexistent/k.gpg'}],"
      "'e.io':[{'type':'signedBaseLayer','baseLayerIdentity':{'type':'matchRepository'}}],"
      "'f.io':[{'type':'sigstoreSigned','fulcio':{'caData':'%s','oidcIssuer':'https://o',"
      "'subjectEmail':'a@b'},'rekorPublicKeyData':'%s'}],"
      "'g.io':[{'type':'sigstoreSigned','pki':{'caRootsPath':'/r.pem','subjectHostname':'h'}}],"
      "'h.io':[{'type':'insecureAcceptAnything'},{'type':'sigstoreSigned','keyData':'%s',"
      "'rekorPublicKeyDatas':['%s','%s']}]"
      "}}}",
      pem_a_b64, pem_a_b64, pem_b_b64, pem_b_b64, pem_a_b64, pem_a_b64, pem_a_b64, pem_a_b64,
      pem_b_b64);
  g_autoptr (MvPolicy) policy = parse_ok (q);
  const MvPolicyRequirement *r;
  GPtrArray *reqs;

  reqs = mv_policy_lookup (policy, "x.org/m:v1", NULL);
  r = reqs->pdata[0];
  g_assert_cmpint (r->kind, ==, MV_POLICY_ACCEPT_ANYTHING);
  g_assert_cmpstr (r->type, ==, "insecureAcceptAnything");
  g_assert_cmpuint (r->keys->len, ==, 0);

  r = ((GPtrArray *)mv_policy_lookup (policy, "a.io/m:v1", NULL))->pdata[0];
  g_assert_cmpint (r->kind, ==, MV_POLICY_REJECT);

  r = ((GPtrArray *)mv_policy_lookup (policy, "b.io/m:v1", NULL))->pdata[0];
  g_assert_cmpint (r->kind, ==, MV_POLICY_SIGSTORE_SIGNED);
  g_assert_cmpstr (r->type, ==, "sigstoreSigned");
  g_assert_cmpuint (r->keys->len, ==, 1);
  g_assert_cmpuint (r->rekor_keys->len, ==, 0);
  g_assert_cmpmem (g_bytes_get_data (r->keys->pdata[0], NULL), g_bytes_get_size (r->keys->pdata[0]),
                   PEM_A, strlen (PEM_A));
  g_assert_cmpint (r->identity.kind, ==, MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT);
  g_assert_null (r->unsupported_why);

  r = ((GPtrArray *)mv_policy_lookup (policy, "c.io/m:v1", NULL))->pdata[0];
  g_assert_cmpint (r->kind, ==, MV_POLICY_SIGSTORE_SIGNED);
  g_assert_cmpuint (r->keys->len, ==, 2);
  g_assert_cmpmem (g_bytes_get_data (r->keys->pdata[1], NULL), g_bytes_get_size (r->keys->pdata[1]),
                   PEM_B, strlen (PEM_B));
  g_assert_cmpuint (r->rekor_keys->len, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (r->rekor_keys->pdata[0], NULL),
                   g_bytes_get_size (r->rekor_keys->pdata[0]), PEM_B, strlen (PEM_B));

  /* Valid in the file, unsupported here: they refuse what they apply to. */
  r = ((GPtrArray *)mv_policy_lookup (policy, "d.io/m:v1", NULL))->pdata[0];
  g_assert_cmpint (r->kind, ==, MV_POLICY_UNSUPPORTED);
  g_assert_cmpstr (r->type, ==, "signedBy");
  assert_contains (r->unsupported_why, "GPG");
  r = ((GPtrArray *)mv_policy_lookup (policy, "e.io/m:v1", NULL))->pdata[0];
  g_assert_cmpint (r->kind, ==, MV_POLICY_UNSUPPORTED);
  assert_contains (r->unsupported_why, "signedBaseLayer");
  r = ((GPtrArray *)mv_policy_lookup (policy, "f.io/m:v1", NULL))->pdata[0];
  g_assert_cmpint (r->kind, ==, MV_POLICY_UNSUPPORTED);
  assert_contains (r->unsupported_why, "fulcio");
  r = ((GPtrArray *)mv_policy_lookup (policy, "g.io/m:v1", NULL))->pdata[0];
  g_assert_cmpint (r->kind, ==, MV_POLICY_UNSUPPORTED);
  assert_contains (r->unsupported_why, "pki");

  reqs = mv_policy_lookup (policy, "h.io/m:v1", NULL);
  g_assert_cmpuint (reqs->len, ==, 2);
  r = reqs->pdata[1];
  g_assert_cmpuint (r->keys->len, ==, 1);
  g_assert_cmpuint (r->rekor_keys->len, ==, 2);
}

static void
test_key_files (void)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *a = write_file (dir, "a.pub", PEM_A, -1);
  g_autofree char *b = write_file (dir, "b.pub", PEM_B, -1);
  g_autofree char *missing = g_build_filename (dir, "missing.pub", NULL);
  g_autofree char *big_data = g_strnfill (MV_POLICY_KEY_MAX + 1, 'k');
  g_autofree char *big = write_file (dir, "big.pub", big_data, -1);
  g_autofree char *exact = write_file (dir, "exact.pub", big_data, MV_POLICY_KEY_MAX);
  g_autofree char *q = NULL;
  g_autoptr (MvPolicy) policy = NULL;
  g_autoptr (GError) error = NULL;
  const MvPolicyRequirement *r;

  q = g_strdup_printf ("{'default':[{'type':'sigstoreSigned','keyPath':'%s',"
                       "'rekorPublicKeyPaths':['%s','%s']}],"
                       "'transports':{'docker':{'q.io':[{'type':'sigstoreSigned','keyPaths':"
                       "['%s','%s','%s'],'rekorPublicKeyPath':'%s'}]},"
                       /* Other transports' key files are checked, never read. */
                       "'atomic':{'':[{'type':'sigstoreSigned','keyPath':'%s'}]}}}",
                       a, b, a, b, a, exact, b, missing);
  policy = parse_ok (q);
  r = ((GPtrArray *)mv_policy_lookup (policy, "x.io/m:v1", NULL))->pdata[0];
  g_assert_cmpuint (r->keys->len, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (r->keys->pdata[0], NULL), g_bytes_get_size (r->keys->pdata[0]),
                   PEM_A, strlen (PEM_A));
  g_assert_cmpuint (r->rekor_keys->len, ==, 2);
  r = ((GPtrArray *)mv_policy_lookup (policy, "q.io/m:v1", NULL))->pdata[0];
  g_assert_cmpuint (r->keys->len, ==, 3);
  g_assert_cmpuint (g_bytes_get_size (r->keys->pdata[2]), ==, MV_POLICY_KEY_MAX);
  g_assert_cmpuint (r->rekor_keys->len, ==, 1);
  g_clear_pointer (&policy, mv_policy_free);

  /* A missing key file, in the docker transport or default: an I/O error naming it. */
  g_free (q);
  q = g_strdup_printf ("{'default':[{'type':'reject'}],'transports':{'docker':{'q.io':"
                       "[{'type':'sigstoreSigned','keyPaths':['%s','%s']}]}}}",
                       a, missing);
  policy = parse_q (q, &error);
  g_assert_null (policy);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  assert_contains (error->message, "policy '" POLICY_PATH "'");
  assert_contains (error->message, "transports.docker[\"q.io\"][0].keyPaths[1]");
  assert_contains (error->message, missing);
  g_clear_error (&error);

  g_free (q);
  q = g_strdup_printf ("{'default':[{'type':'sigstoreSigned','keyPath':'%s'}]}", big);
  g_assert_null (parse_q (q, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  assert_contains (error->message, "default[0].keyPath");
  g_clear_error (&error);

  /* A directory is not a key file. */
  g_free (q);
  q = g_strdup_printf ("{'default':[{'type':'sigstoreSigned','rekorPublicKeyPath':'%s',"
                       "'keyPath':'%s'}]}",
                       dir, a);
  g_assert_null (parse_q (q, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  assert_contains (error->message, "default[0].rekorPublicKeyPath");
  g_clear_error (&error);

  if (!is_root ())
    {
      g_assert_no_errno (g_chmod (a, 0));
      g_free (q);
      q = g_strdup_printf ("{'default':[{'type':'sigstoreSigned','keyPath':'%s'}]}", a);
      g_assert_null (parse_q (q, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      assert_contains (error->message, a);
      g_clear_error (&error);
    }
  rm_rf (dir);
}

/* signedIdentity: what is read */
static void
test_identity_parse (void)
{
  g_autoptr (MvPolicy) policy = NULL;
  g_autofree char *q = g_strdup_printf (
      "{'default':[{'type':'reject'}],'transports':{'docker':{"
      "'a.io':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'matchRepoDigestOrExact'}}],"
      "'b.io':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':'matchExact'}}],"
      "'c.io':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'matchRepository'}}],"
      "'d.io':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'exactReference','dockerReference':'busybox:1'}}],"
      "'e.io':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'exactReference','dockerReference':'q.io/a/b@" D256 "'}}],"
      "'f.io':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'exactRepository','dockerRepository':'org/model'}}],"
      "'g.io':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'remapIdentity','prefix':'mirror.local:5000/ns','signedPrefix':'q.io'}}]"
      "}}}",
      pem_a_b64, pem_a_b64, pem_a_b64, pem_a_b64, pem_a_b64, pem_a_b64, pem_a_b64);
  struct
  {
    const char *reference;
    MvSignedIdentityKind kind;
    const char *docker_reference, *docker_repository, *prefix, *signed_prefix;
  } want[] = {
    { "a.io/m:v1", MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT },
    { "b.io/m:v1", MV_IDENTITY_MATCH_EXACT },
    { "c.io/m:v1", MV_IDENTITY_MATCH_REPOSITORY },
    { "d.io/m:v1", MV_IDENTITY_EXACT_REFERENCE, "docker.io/library/busybox:1" },
    { "e.io/m:v1", MV_IDENTITY_EXACT_REFERENCE, "q.io/a/b@" D256 },
    { "f.io/m:v1", MV_IDENTITY_EXACT_REPOSITORY, NULL, "docker.io/org/model" },
    { "g.io/m:v1", MV_IDENTITY_REMAP_IDENTITY, NULL, NULL, "mirror.local:5000/ns", "q.io" },
  };

  policy = parse_ok (q);
  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    {
      const MvPolicyRequirement *r
          = ((GPtrArray *)mv_policy_lookup (policy, want[i].reference, NULL))->pdata[0];
      g_assert_cmpint (r->identity.kind, ==, want[i].kind);
      g_assert_cmpstr (r->identity.docker_reference, ==, want[i].docker_reference);
      g_assert_cmpstr (r->identity.docker_repository, ==, want[i].docker_repository);
      g_assert_cmpstr (r->identity.prefix, ==, want[i].prefix);
      g_assert_cmpstr (r->identity.signed_prefix, ==, want[i].signed_prefix);
    }
}

/* signedIdentity: what matches */

typedef struct
{
  MvSignedIdentityKind kind;
  const char *arg1; /* exactReference / exactRepository value, or remapIdentity prefix */
  const char *arg2; /* remapIdentity signedPrefix */
  const char *reference;
  const char *signed_reference;
  gboolean ok;
  const char *why; /* a part of the refusal */
} Match;

static const Match matches[] = {
  /* matchRepoDigestOrExact */
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1", "q.io/a/b:v1", TRUE },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1", "q.io/a/b:v2", FALSE,
    "matchRepoDigestOrExact: a tag must match exactly" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1", "q.io/a/b@" D256, FALSE,
    "a tag must match exactly" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1", "q.io/a/c:v1", FALSE,
    "a tag must match exactly" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b@" D256, "q.io/a/b:whatever",
    TRUE },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b@" D256, "q.io/a/b@" D256B, TRUE },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b@" D256, "q.io/a/c:v1", FALSE,
    "a pull by digest needs the same repository" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b@" D256, "q.io/a/b", FALSE,
    "the signature's identity has neither a tag nor a digest" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b", "q.io/a/b:v1", FALSE,
    "the reference has neither a tag nor a digest" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1@" D256, "q.io/a/b:v1", FALSE,
    "a tag must match exactly" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1@" D256, "q.io/a/b:v1@" D256,
    TRUE },
  /* The signature's name is normalized, as ParseNormalizedNamed does. */
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "docker.io/library/busybox:1", "busybox:1",
    TRUE },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "docker.io/library/busybox:1",
    "index.docker.io/library/busybox:1", TRUE },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1", "Q.io/a/b:v1", FALSE,
    "a tag must match exactly" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1", "NOT A REFERENCE", FALSE,
    "the signature's identity" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "q.io/a/b:v1", "", FALSE,
    "the signature's identity" },
  { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, NULL, NULL, "NOT A REFERENCE", "q.io/a/b:v1", FALSE,
    "the reference pulled" },
  /* matchExact */
  { MV_IDENTITY_MATCH_EXACT, NULL, NULL, "q.io/a/b:v1", "q.io/a/b:v1", TRUE },
  { MV_IDENTITY_MATCH_EXACT, NULL, NULL, "q.io/a/b:v1", "q.io/a/b:v2", FALSE,
    "matchExact: the references must be the same" },
  { MV_IDENTITY_MATCH_EXACT, NULL, NULL, "q.io/a/b@" D256, "q.io/a/b@" D256, TRUE },
  { MV_IDENTITY_MATCH_EXACT, NULL, NULL, "q.io/a/b@" D256, "q.io/a/b@" D256B, FALSE,
    "the references must be the same" },
  { MV_IDENTITY_MATCH_EXACT, NULL, NULL, "q.io/a/b@" D256, "q.io/a/b:v1", FALSE,
    "the references must be the same" },
  { MV_IDENTITY_MATCH_EXACT, NULL, NULL, "q.io/a/b:v1", "q.io/a/b", FALSE,
    "matchExact: both need a tag or a digest" },
  { MV_IDENTITY_MATCH_EXACT, NULL, NULL, "q.io/a/b", "q.io/a/b", FALSE,
    "both need a tag or a digest" },
  { MV_IDENTITY_MATCH_EXACT, NULL, NULL, "q.io/a/b", "q.io/a/b:v1", FALSE,
    "both need a tag or a digest" },
  /* matchRepository */
  { MV_IDENTITY_MATCH_REPOSITORY, NULL, NULL, "q.io/a/b:v1", "q.io/a/b:v2", TRUE },
  { MV_IDENTITY_MATCH_REPOSITORY, NULL, NULL, "q.io/a/b:v1", "q.io/a/b", TRUE },
  { MV_IDENTITY_MATCH_REPOSITORY, NULL, NULL, "q.io/a/b@" D256, "q.io/a/b:v1", TRUE },
  { MV_IDENTITY_MATCH_REPOSITORY, NULL, NULL, "q.io/a/b:v1", "q.io/a/bc:v1", FALSE,
    "matchRepository: the repositories must be the same" },
  { MV_IDENTITY_MATCH_REPOSITORY, NULL, NULL, "q.io/a/b:v1", "r.io/a/b:v1", FALSE,
    "the repositories must be the same" },
  { MV_IDENTITY_MATCH_REPOSITORY, NULL, NULL, "q.io:5000/a/b:v1", "q.io/a/b:v1", FALSE,
    "the repositories must be the same" },
  /* exactReference: the reference pulled does not matter */
  { MV_IDENTITY_EXACT_REFERENCE, "q.io/x/y:v1", NULL, "other.io/z:9", "q.io/x/y:v1", TRUE },
  { MV_IDENTITY_EXACT_REFERENCE, "q.io/x/y:v1", NULL, "q.io/x/y:v1", "q.io/x/y:v2", FALSE,
    "exactReference: the references must be the same" },
  { MV_IDENTITY_EXACT_REFERENCE, "q.io/x/y:v1", NULL, "q.io/x/y:v1", "q.io/x/y", FALSE,
    "exactReference: both need a tag or a digest" },
  { MV_IDENTITY_EXACT_REFERENCE, "q.io/x/y@" D256, NULL, "q.io/x/y:v1", "q.io/x/y@" D256, TRUE },
  { MV_IDENTITY_EXACT_REFERENCE, "q.io/x/y@" D256, NULL, "q.io/x/y@" D256, "q.io/x/y:v1", FALSE,
    "the references must be the same" },
  /* exactRepository */
  { MV_IDENTITY_EXACT_REPOSITORY, "q.io/x/y", NULL, "other.io/z:9", "q.io/x/y:v9", TRUE },
  { MV_IDENTITY_EXACT_REPOSITORY, "q.io/x/y", NULL, "q.io/x/y:v1", "q.io/x/y", TRUE },
  { MV_IDENTITY_EXACT_REPOSITORY, "q.io/x/y", NULL, "q.io/x/y@" D256, "q.io/x/y@" D256B, TRUE },
  { MV_IDENTITY_EXACT_REPOSITORY, "q.io/x/y", NULL, "q.io/x/y:v1", "q.io/x/z:v1", FALSE,
    "exactRepository: the repositories must be the same" },
  { MV_IDENTITY_EXACT_REPOSITORY, "q.io/x/y", NULL, "q.io/x/y:v1", "q.io/x:v1", FALSE,
    "the repositories must be the same" },
  /* remapIdentity: the prefix at a component boundary, then matchRepoDigestOrExact */
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/ns/m:v1",
    "q.io/upstream/m:v1", TRUE },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/ns/a/b/m:v1",
    "q.io/upstream/a/b/m:v1", TRUE },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/ns/m:v1",
    "mirror.local/ns/m:v1", FALSE, "remapIdentity, then matchRepoDigestOrExact: a tag must match" },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/ns/m:v1",
    "q.io/upstream/m:v2", FALSE, "a tag must match exactly" },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/ns:v1",
    "q.io/upstream:v1", TRUE },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/nsx/m:v1",
    "mirror.local/nsx/m:v1", TRUE },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/nsx/m:v1",
    "q.io/upstreamx/m:v1", FALSE, "the prefix does not apply" },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/ns/m@" D256,
    "q.io/upstream/m:v3", TRUE },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/ns/m@" D256,
    "q.io/upstream/other:v3", FALSE, "a pull by digest needs the same repository" },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "q.io/upstream", "mirror.local/ns/m:v1@" D256,
    "q.io/upstream/m:v1@" D256, TRUE },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local:5000", "q.io", "mirror.local:5000/a/b:v1",
    "q.io/a/b:v1", TRUE },
  /* The port is a part of the host: no remapping across it. */
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local", "q.io", "mirror.local:5000/a/b:v1", "q.io/a/b:v1",
    FALSE, "the prefix does not apply" },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local:5000", "q.io", "mirror.local/a/b:v1",
    "mirror.local/a/b:v1", TRUE },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local:5000", "q.io", "mirror.local/a/b:v1", "q.io/a/b:v1",
    FALSE, "the prefix does not apply" },
  /* A rewrite to a name that would normalize to another one (docker.io/m is
   * docker.io/library/m) is refused, as containers/image's ParseNamed refuses it. */
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "docker.io", "mirror.local/ns/m:v1",
    "docker.io/library/m:v1", FALSE, "which is not a normalized reference" },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "docker.io/library", "mirror.local/ns/m:v1",
    "busybox:1", FALSE, "a tag must match exactly" },
  { MV_IDENTITY_REMAP_IDENTITY, "mirror.local/ns", "docker.io/library", "mirror.local/ns/busybox:1",
    "busybox:1", TRUE },
};

static void
test_identity_match (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (matches); i++)
    {
      const Match *m = &matches[i];
      MvSignedIdentity id = { .kind = m->kind };
      g_autoptr (GError) error = NULL;
      gboolean ok;

      if (m->kind == MV_IDENTITY_EXACT_REFERENCE)
        id.docker_reference = (char *)m->arg1;
      else if (m->kind == MV_IDENTITY_EXACT_REPOSITORY)
        id.docker_repository = (char *)m->arg1;
      else if (m->kind == MV_IDENTITY_REMAP_IDENTITY)
        {
          id.prefix = (char *)m->arg1;
          id.signed_prefix = (char *)m->arg2;
        }
      g_test_message ("%zu: kind %d %s / %s: %s / %s", i, m->kind, m->arg1 ? m->arg1 : "-",
                      m->arg2 ? m->arg2 : "-", m->reference, m->signed_reference);
      ok = mv_policy_identity_matches (&id, m->reference, m->signed_reference, &error);
      if (m->ok)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
          assert_contains (error->message, m->why);
        }
      /* Through mv_verdict_identity_matches(): the same, when the signature names a reference. */
      g_clear_error (&error);
      g_assert_cmpint (mv_verdict_identity_matches (&id, m->reference, m->signed_reference, &error),
                       ==, m->ok);
      g_assert_true (m->ok == (error == NULL));
    }
}

/* The same identities, read from a policy file, give the same answers. */
static void
test_identity_match_parsed (void)
{
  g_autofree char *q = g_strdup_printf (
      "{'default':[{'type':'reject'}],'transports':{'docker':{"
      "'mirror.local/ns':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'remapIdentity','prefix':'mirror.local/ns','signedPrefix':'q.io/upstream'}}],"
      "'x.io':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'exactReference','dockerReference':'busybox:1'}}]}}}",
      pem_a_b64, pem_a_b64);
  g_autoptr (MvPolicy) policy = parse_ok (q);
  const MvPolicyRequirement *r
      = ((GPtrArray *)mv_policy_lookup (policy, "mirror.local/ns/m:v1", NULL))->pdata[0];
  g_autoptr (GError) error = NULL;

  g_assert_true (mv_policy_identity_matches (&r->identity, "mirror.local/ns/m:v1",
                                             "q.io/upstream/m:v1", NULL));
  g_assert_false (mv_policy_identity_matches (&r->identity, "mirror.local/ns/m:v1",
                                              "mirror.local/ns/m:v1", &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
  g_clear_error (&error);
  r = ((GPtrArray *)mv_policy_lookup (policy, "x.io/m:v1", NULL))->pdata[0];
  g_assert_true (mv_policy_identity_matches (&r->identity, "x.io/m:v1",
                                             "docker.io/library/busybox:1", &error));
  g_assert_no_error (error);
  g_assert_false (mv_policy_identity_matches (&r->identity, "x.io/m:v1", "busybox:2", &error));
  assert_contains (error->message, "exactReference");
}

/* A signature naming no reference (a sigstore bundle) */
static void
test_identity_unnamed (void)
{
  const MvSignedIdentityKind others[]
      = { MV_IDENTITY_MATCH_EXACT, MV_IDENTITY_MATCH_REPOSITORY, MV_IDENTITY_EXACT_REFERENCE,
          MV_IDENTITY_EXACT_REPOSITORY, MV_IDENTITY_REMAP_IDENTITY };
  MvSignedIdentity id = { .kind = MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT };
  g_autoptr (GError) error = NULL;

  g_assert_true (mv_verdict_identity_matches (&id, "q.io/a/b@" D256, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mv_verdict_identity_matches (&id, "q.io/a/b:v1@" D256, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (mv_verdict_identity_matches (&id, "q.io/a/b:v1", NULL, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
  assert_contains (error->message, "names no reference");
  g_clear_error (&error);
  for (gsize i = 0; i < G_N_ELEMENTS (others); i++)
    {
      MvSignedIdentity other = { .kind = others[i],
                                 .docker_reference = (char *)"q.io/a/b@" D256,
                                 .docker_repository = (char *)"q.io/a/b",
                                 .prefix = (char *)"q.io",
                                 .signed_prefix = (char *)"q.io" };
      g_assert_false (mv_verdict_identity_matches (&other, "q.io/a/b@" D256, NULL, &error));
      g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
      g_clear_error (&error);
    }
}

/* Refusals */

typedef struct
{
  const char *q;     /* the policy, ' for " */
  MvError code;      /* MV_ERROR_SIGNATURE unless the size is the matter */
  const char *want;  /* in the message */
  const char *want2; /* nullable, in the message too */
} Bad;

#define ACCEPT "{'type':'insecureAcceptAnything'}"
#define OK_DEFAULT "'default':[" ACCEPT "]"
#define IN_DEFAULT(req) "{'default':[" req "]}"
#define IN_DOCKER(scope, list) "{" OK_DEFAULT ",'transports':{'docker':{'" scope "':" list "}}}"
#define SIGSTORE(rest) "{'type':'sigstoreSigned'," rest "}"
#define KD "'keyData':'LS0tLS0='"

static const Bad bad[] = {
  /* Not a policy */
  { "", MV_ERROR_SIGNATURE, "policy '" POLICY_PATH "'", "empty document" },
  { "nope", MV_ERROR_SIGNATURE, "not valid JSON" },
  { "[]", MV_ERROR_SIGNATURE, "not a JSON object" },
  { "{" OK_DEFAULT "} {}", MV_ERROR_SIGNATURE, "data after the top-level value" },
  { "{" OK_DEFAULT ",}", MV_ERROR_SIGNATURE, "not valid JSON" },
  { "{}", MV_ERROR_SIGNATURE, "no \"default\" requirements" },
  { "{'transports':{}}", MV_ERROR_SIGNATURE, "no \"default\"" },
  /* Unknown members, at every level */
  { "{" OK_DEFAULT ",'Default':[]}", MV_ERROR_SIGNATURE, "unknown member \"Default\"" },
  { "{" OK_DEFAULT ",'transports':{},'x':1}", MV_ERROR_SIGNATURE, "unknown member \"x\"" },
  { IN_DEFAULT ("{'type':'insecureAcceptAnything','keyPath':'/k'}"), MV_ERROR_SIGNATURE,
    "default[0]: unknown member \"keyPath\"" },
  { IN_DEFAULT ("{'type':'reject','why':'because'}"), MV_ERROR_SIGNATURE,
    "unknown member \"why\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'keyType':'GPGKeys'")), MV_ERROR_SIGNATURE,
    "default[0]: unknown member \"keyType\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'matchExact','dockerReference':'a/b:1'}")),
    MV_ERROR_SIGNATURE, "default[0].signedIdentity: unknown member \"dockerReference\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactRepository','dockerRepository':"
                             "'q.io/a','prefix':'q.io'}")),
    MV_ERROR_SIGNATURE, "unknown member \"prefix\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'q.io',"
                             "'signedPrefix':'r.io','dockerReference':'q.io/a:1'}")),
    MV_ERROR_SIGNATURE, "unknown member \"dockerReference\"" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'caPath':'/ca','oidcIssuer':'i','subjectEmail':'e','x':''},"
                          "'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "default[0].fulcio: unknown member \"x\"" },
  { IN_DEFAULT ("{'type':'signedBy','keyType':'GPGKeys','keyDatas':['LS0tLS0=']}"),
    MV_ERROR_SIGNATURE, "unknown member \"keyDatas\"" },
  /* An escaped member name: no terminal escape reaches the message. */
  { "{" OK_DEFAULT ",'\\u001b[31m':1}", MV_ERROR_SIGNATURE, "unknown member \"\\x1b[31m\"" },
  /* Duplicate members, at every level */
  { "{" OK_DEFAULT "," OK_DEFAULT "}", MV_ERROR_SIGNATURE, "duplicate member name" },
  { "{" OK_DEFAULT ",'transports':{'docker':{},'docker':{}}}", MV_ERROR_SIGNATURE,
    "duplicate member name" },
  { IN_DOCKER ("q.io", "[" ACCEPT "],'q.io':[" ACCEPT "]"), MV_ERROR_SIGNATURE,
    "duplicate member name" },
  { IN_DEFAULT ("{'type':'reject','type':'reject'}"), MV_ERROR_SIGNATURE, "duplicate member name" },
  { IN_DEFAULT (SIGSTORE (KD "," KD)), MV_ERROR_SIGNATURE, "duplicate member name" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'matchExact','type':'matchExact'}")),
    MV_ERROR_SIGNATURE, "duplicate member name" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'matchExact'},'signedIdentity':{'type':"
                             "'matchExact'}")),
    MV_ERROR_SIGNATURE, "duplicate member name" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'caPath':'/a','caPath':'/b','oidcIssuer':'i','subjectEmail':"
                          "'e'},'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "duplicate member name" },
  /* The same name escaped differently is the same name. */
  { "{" OK_DEFAULT ",'\\u0064efault':[" ACCEPT "]}", MV_ERROR_SIGNATURE, "duplicate member name" },
  /* Wrong types */
  { "{'default':{}}", MV_ERROR_SIGNATURE, "default: not an array of requirements" },
  { "{'default':'reject'}", MV_ERROR_SIGNATURE, "default: not an array of requirements" },
  { "{'default':null}", MV_ERROR_SIGNATURE, "default: not an array of requirements" },
  { "{'default':[1]}", MV_ERROR_SIGNATURE, "default[0]: not an object" },
  { "{'default':[" ACCEPT ",[]]}", MV_ERROR_SIGNATURE, "default[1]: not an object" },
  { "{'default':[{'type':1}]}", MV_ERROR_SIGNATURE, "default[0].type: not a string" },
  { "{'default':[{'type':null}]}", MV_ERROR_SIGNATURE, "default[0].type: not a string" },
  { "{'default':[{}]}", MV_ERROR_SIGNATURE, "default[0]: no \"type\"" },
  { "{" OK_DEFAULT ",'transports':[]}", MV_ERROR_SIGNATURE, "transports: not an object" },
  { "{" OK_DEFAULT ",'transports':{'docker':[]}}", MV_ERROR_SIGNATURE,
    "transports.docker: not an object" },
  { "{" OK_DEFAULT ",'transports':{'atomic':1}}", MV_ERROR_SIGNATURE,
    "transports.atomic: not an object" },
  { IN_DOCKER ("q.io", ACCEPT), MV_ERROR_SIGNATURE,
    "transports.docker[\"q.io\"]: not an array of requirements" },
  { IN_DEFAULT (SIGSTORE ("'keyPath':1")), MV_ERROR_SIGNATURE, "default[0].keyPath: not a string" },
  { IN_DEFAULT (SIGSTORE ("'keyData':true")), MV_ERROR_SIGNATURE,
    "default[0].keyData: not a string" },
  { IN_DEFAULT (SIGSTORE ("'keyPaths':'/k'")), MV_ERROR_SIGNATURE,
    "default[0].keyPaths: not an array" },
  { IN_DEFAULT (SIGSTORE ("'keyPaths':['/k',2]")), MV_ERROR_SIGNATURE,
    "default[0].keyPaths: entry 1 is not a string" },
  { IN_DEFAULT (SIGSTORE ("'keyPaths':[]")), MV_ERROR_SIGNATURE,
    "default[0].keyPaths: an empty array" },
  { IN_DEFAULT (SIGSTORE ("'keyDatas':{}")), MV_ERROR_SIGNATURE,
    "default[0].keyDatas: not an array" },
  { IN_DEFAULT (SIGSTORE ("'keyDatas':[]")), MV_ERROR_SIGNATURE, "an empty array" },
  { IN_DEFAULT (SIGSTORE (KD ",'rekorPublicKeyData':5")), MV_ERROR_SIGNATURE,
    "default[0].rekorPublicKeyData: not a string" },
  { IN_DEFAULT (SIGSTORE (KD ",'rekorPublicKeyPaths':[null]")), MV_ERROR_SIGNATURE,
    "default[0].rekorPublicKeyPaths: entry 0 is not a string" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':'matchExact'")), MV_ERROR_SIGNATURE,
    "default[0].signedIdentity: not an object" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':2}")), MV_ERROR_SIGNATURE,
    "default[0].signedIdentity.type: not a string" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{}")), MV_ERROR_SIGNATURE,
    "default[0].signedIdentity: no \"type\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactReference','dockerReference':1}")),
    MV_ERROR_SIGNATURE, "signedIdentity.dockerReference: not a string" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':[],'rekorPublicKeyData':'LS0tLS0='")), MV_ERROR_SIGNATURE,
    "default[0].fulcio: not an object" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'caPath':1,'oidcIssuer':'i','subjectEmail':'e'},"
                          "'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "fulcio.caPath: not a string" },
  { IN_DEFAULT ("{'type':'signedBy','keyType':7,'keyPath':'/k'}"), MV_ERROR_SIGNATURE,
    "keyType: not a string" },
  /* Empty requirement lists */
  { "{'default':[]}", MV_ERROR_SIGNATURE, "default: an empty list of requirements" },
  { IN_DOCKER ("q.io", "[]"), MV_ERROR_SIGNATURE,
    "transports.docker[\"q.io\"]: an empty list of requirements" },
  { IN_DOCKER ("", "[]"), MV_ERROR_SIGNATURE, "transports.docker[\"\"]: an empty list" },
  /* Other transports: scopes are not checked, requirements are */
  { "{" OK_DEFAULT ",'transports':{'atomic':{'any thing':[]}}}", MV_ERROR_SIGNATURE,
    "transports.atomic[\"any thing\"]: an empty list of requirements" },
  { "{" OK_DEFAULT ",'transports':{'oci':{'':[{'type':'bogus'}]}}}", MV_ERROR_SIGNATURE,
    "transports.oci[\"\"][0]: unknown requirement type \"bogus\"" },
  { "{" OK_DEFAULT ",'transports':{'atomic':{'':[" SIGSTORE ("'keyPath':'k.pub'") "]}}}",
    MV_ERROR_SIGNATURE, "'k.pub' is not an absolute path" },
  { "{" OK_DEFAULT ",'transports':{'atomic':{'':[" SIGSTORE ("'keyData':'x'") "]}}}",
    MV_ERROR_SIGNATURE, "not strict base64" },
  /* Requirement types */
  { IN_DEFAULT ("{'type':'bogus'}"), MV_ERROR_SIGNATURE,
    "default[0]: unknown requirement type \"bogus\"" },
  { IN_DEFAULT ("{'type':'InsecureAcceptAnything'}"), MV_ERROR_SIGNATURE,
    "unknown requirement type" },
  { IN_DEFAULT ("{'type':''}"), MV_ERROR_SIGNATURE, "unknown requirement type \"\"" },
  /* sigstoreSigned key sources */
  { IN_DEFAULT (SIGSTORE ("'signedIdentity':{'type':'matchExact'}")), MV_ERROR_SIGNATURE,
    "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki is needed (none is "
    "given)" },
  { IN_DEFAULT ("{'type':'sigstoreSigned'}"), MV_ERROR_SIGNATURE, "none is given" },
  { IN_DEFAULT (SIGSTORE ("'keyPath':'/k'," KD)), MV_ERROR_SIGNATURE, "default[0]: exactly one of",
    "more than one is given" },
  { IN_DEFAULT (SIGSTORE ("'keyPath':'/k','keyPaths':['/k']")), MV_ERROR_SIGNATURE,
    "more than one is given" },
  { IN_DEFAULT (SIGSTORE (KD ",'keyDatas':['LS0tLS0=']")), MV_ERROR_SIGNATURE,
    "more than one is given" },
  { IN_DEFAULT (SIGSTORE (KD ",'pki':{'caRootsPath':'/r','subjectEmail':'e'}")), MV_ERROR_SIGNATURE,
    "more than one is given" },
  { IN_DEFAULT (SIGSTORE ("'keyPath':'/k','fulcio':{'caPath':'/ca','oidcIssuer':'i',"
                          "'subjectEmail':'e'},'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "more than one is given" },
  { IN_DEFAULT (SIGSTORE (KD ",'rekorPublicKeyData':'LS0tLS0=','rekorPublicKeyPath':'/r'")),
    MV_ERROR_SIGNATURE, "at most one of rekorPublicKeyPath" },
  { IN_DEFAULT (SIGSTORE (KD ",'rekorPublicKeyDatas':['LS0tLS0='],'rekorPublicKeyPaths':['/r']")),
    MV_ERROR_SIGNATURE, "at most one of rekorPublicKeyPath" },
  /* Paths */
  { IN_DEFAULT (SIGSTORE ("'keyPath':'keys/a.pub'")), MV_ERROR_SIGNATURE,
    "default[0].keyPath: 'keys/a.pub' is not an absolute path" },
  { IN_DEFAULT (SIGSTORE ("'keyPath':'./a.pub'")), MV_ERROR_SIGNATURE, "is not an absolute path" },
  { IN_DEFAULT (SIGSTORE ("'keyPath':''")), MV_ERROR_SIGNATURE,
    "default[0].keyPath: an empty path" },
  { IN_DEFAULT (SIGSTORE ("'keyPaths':['rel','/nonexistent/a']")), MV_ERROR_SIGNATURE,
    "default[0].keyPaths[0]: 'rel' is not an absolute path" },
  { IN_DEFAULT (SIGSTORE (KD ",'rekorPublicKeyPath':'rekor.pub'")), MV_ERROR_SIGNATURE,
    "default[0].rekorPublicKeyPath: 'rekor.pub' is not an absolute path" },
  { IN_DOCKER ("q.io", "[" SIGSTORE ("'keyPath':'a.pub'") "]"), MV_ERROR_SIGNATURE,
    "transports.docker[\"q.io\"][0].keyPath: 'a.pub' is not an absolute path" },
  /* keyData: strict base64 of something */
  { IN_DEFAULT (SIGSTORE ("'keyData':'not base64!'")), MV_ERROR_SIGNATURE,
    "default[0].keyData: not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':'LS0t LS0='")), MV_ERROR_SIGNATURE, "not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':'LS0tLS0=\\n'")), MV_ERROR_SIGNATURE, "not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':'LS0tLS0'")), MV_ERROR_SIGNATURE, "not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':'QUJ='")), MV_ERROR_SIGNATURE, "not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':'QR=='")), MV_ERROR_SIGNATURE, "not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':'Q==='")), MV_ERROR_SIGNATURE, "not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':'QQ==QUJD'")), MV_ERROR_SIGNATURE, "not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':'LS0tLS0_'")), MV_ERROR_SIGNATURE, "not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'keyData':''")), MV_ERROR_SIGNATURE, "default[0].keyData: empty" },
  { IN_DEFAULT (SIGSTORE ("'keyDatas':['LS0tLS0=','%%%%']")), MV_ERROR_SIGNATURE,
    "default[0].keyDatas[1]: not strict base64" },
  { IN_DEFAULT (SIGSTORE (KD ",'rekorPublicKeyData':'-'")), MV_ERROR_SIGNATURE,
    "default[0].rekorPublicKeyData: not strict base64" },
  { IN_DEFAULT (SIGSTORE (KD ",'rekorPublicKeyDatas':['']")), MV_ERROR_SIGNATURE,
    "default[0].rekorPublicKeyDatas[0]: empty" },
  /* Keyless: checked as containers/image does */
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'caPath':'/ca','oidcIssuer':'i','subjectEmail':'e'}")),
    MV_ERROR_SIGNATURE, "fulcio needs a Rekor key" },
  { IN_DEFAULT (SIGSTORE ("'pki':{'caRootsPath':'/r','subjectEmail':'e'},"
                          "'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "pki takes no Rekor key" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'oidcIssuer':'i','subjectEmail':'e'},"
                          "'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "exactly one of caPath and caData is needed" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'caPath':'/ca','caData':'LS0tLS0=','oidcIssuer':'i',"
                          "'subjectEmail':'e'},'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "exactly one of caPath and caData is needed" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'caData':'bad!','oidcIssuer':'i','subjectEmail':'e'},"
                          "'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "fulcio.caData: not strict base64" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'caPath':'/ca','subjectEmail':'e'},"
                          "'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "no oidcIssuer" },
  { IN_DEFAULT (SIGSTORE ("'fulcio':{'caPath':'/ca','oidcIssuer':'i','subjectEmail':''},"
                          "'rekorPublicKeyData':'LS0tLS0='")),
    MV_ERROR_SIGNATURE, "no subjectEmail" },
  { IN_DEFAULT (SIGSTORE ("'pki':{'subjectEmail':'e'}")), MV_ERROR_SIGNATURE,
    "exactly one of caRootsPath and caRootsData is needed" },
  { IN_DEFAULT (SIGSTORE ("'pki':{'caRootsPath':'/r','caIntermediatesPath':'/i',"
                          "'caIntermediatesData':'LS0tLS0=','subjectEmail':'e'}")),
    MV_ERROR_SIGNATURE, "cannot be used together" },
  { IN_DEFAULT (SIGSTORE ("'pki':{'caRootsPath':'/r'}")), MV_ERROR_SIGNATURE,
    "at least one of subjectEmail and subjectHostname is needed" },
  /* signedBy and signedBaseLayer: checked, then unsupported */
  { IN_DEFAULT ("{'type':'signedBy','keyPath':'/k'}"), MV_ERROR_SIGNATURE, "no \"keyType\"" },
  { IN_DEFAULT ("{'type':'signedBy','keyType':'PGP','keyPath':'/k'}"), MV_ERROR_SIGNATURE,
    "default[0].keyType: unknown keyType \"PGP\"" },
  { IN_DEFAULT ("{'type':'signedBy','keyType':'GPGKeys'}"), MV_ERROR_SIGNATURE,
    "exactly one of keyPath, keyPaths and keyData is needed (none is given)" },
  { IN_DEFAULT ("{'type':'signedBy','keyType':'GPGKeys','keyPath':'/k','keyData':'LS0tLS0='}"),
    MV_ERROR_SIGNATURE, "more than one is given" },
  { IN_DEFAULT ("{'type':'signedBy','keyType':'GPGKeys','keyData':'?'}"), MV_ERROR_SIGNATURE,
    "not strict base64" },
  { IN_DEFAULT ("{'type':'signedBy','keyType':'GPGKeys','keyPath':''}"), MV_ERROR_SIGNATURE,
    "an empty path" },
  { IN_DEFAULT ("{'type':'signedBy','keyType':'GPGKeys','keyPath':'/k','signedIdentity':{'type':"
                "'nope'}}"),
    MV_ERROR_SIGNATURE, "unknown signedIdentity type \"nope\"" },
  { IN_DEFAULT ("{'type':'signedBaseLayer'}"), MV_ERROR_SIGNATURE, "no \"baseLayerIdentity\"" },
  { IN_DEFAULT ("{'type':'signedBaseLayer','baseLayerIdentity':{'type':'matchExact'},'x':1}"),
    MV_ERROR_SIGNATURE, "unknown member \"x\"" },
  { IN_DEFAULT ("{'type':'signedBaseLayer','baseLayerIdentity':{'type':'exactReference',"
                "'dockerReference':'q.io/a'}}"),
    MV_ERROR_SIGNATURE, "default[0].baseLayerIdentity.dockerReference", "neither a tag nor" },
  /* signedIdentity values */
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'matchexact'}")), MV_ERROR_SIGNATURE,
    "default[0].signedIdentity: unknown signedIdentity type \"matchexact\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactReference'}")), MV_ERROR_SIGNATURE,
    "default[0].signedIdentity: no \"dockerReference\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactReference','dockerReference':''}")),
    MV_ERROR_SIGNATURE, "signedIdentity.dockerReference: empty" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactReference','dockerReference':"
                             "'q.io/a'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.dockerReference: 'q.io/a' has neither a tag nor a digest" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactReference','dockerReference':"
                             "'q.io/A:1'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.dockerReference" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactRepository'}")), MV_ERROR_SIGNATURE,
    "no \"dockerRepository\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactRepository','dockerRepository':"
                             "'q.io/a:v1'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.dockerRepository: 'q.io/a:v1' is not a repository" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactRepository','dockerRepository':"
                             "'q.io/a@" D256 "'}")),
    MV_ERROR_SIGNATURE, "is not a repository" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'exactRepository','dockerRepository':"
                             "'not a name'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.dockerRepository" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','signedPrefix':'q.io'}")),
    MV_ERROR_SIGNATURE, "no \"prefix\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'q.io'}")),
    MV_ERROR_SIGNATURE, "no \"signedPrefix\"" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'',"
                             "'signedPrefix':'q.io'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.prefix: empty" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'q.io/a:v1',"
                             "'signedPrefix':'r.io'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.prefix: 'q.io/a:v1' is not a host[:port]",
    "a tag or digest is not allowed here" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'q.io',"
                             "'signedPrefix':'r.io/a@" D256 "'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.signedPrefix", "a tag or digest is not allowed here" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'library/busybox',"
                             "'signedPrefix':'q.io'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.prefix", "'library' is not a registry host" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'q.io/',"
                             "'signedPrefix':'r.io'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.prefix" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'q.io',"
                             "'signedPrefix':'busybox'}")),
    MV_ERROR_SIGNATURE, "signedIdentity.signedPrefix", "'busybox' is not a registry host" },
  { IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'q.io:0x50',"
                             "'signedPrefix':'r.io'}")),
    MV_ERROR_SIGNATURE, "the registry port must be a number" },
  /* Scopes of the docker transport */
  { IN_DOCKER ("library/busybox", "[" ACCEPT "]"), MV_ERROR_SIGNATURE,
    "transports.docker[\"library/busybox\"]: invalid scope", "'library' is not a registry host" },
  { IN_DOCKER ("busybox", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope",
    "'busybox' is not a registry host" },
  { IN_DOCKER ("index.docker.io", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope",
    "'index.docker.io' is not a registry host" },
  { IN_DOCKER ("index.docker.io/library/busybox", "[" ACCEPT "]"), MV_ERROR_SIGNATURE,
    "invalid scope", "is not a registry host" },
  { IN_DOCKER ("docker.io/busybox:latest", "[" ACCEPT "]"), MV_ERROR_SIGNATURE,
    "invalid scope: not written in full (as 'docker.io/library/busybox:latest')" },
  { IN_DOCKER ("docker.io/busybox@" D256, "[" ACCEPT "]"), MV_ERROR_SIGNATURE,
    "invalid scope: not written in full (as 'docker.io/library/busybox@" D256 "')" },
  { IN_DOCKER ("*.example.com:5000", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope",
    "a wildcard is \"*.\" and a domain name, without a port" },
  { IN_DOCKER ("*.", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "a wildcard is" },
  { IN_DOCKER ("*.[::1]", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "a wildcard is" },
  { IN_DOCKER ("*.*.com", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "a wildcard is" },
  { IN_DOCKER ("*.example.com/a", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "a wildcard is" },
  { IN_DOCKER ("*", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("*example.com", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("a.*.com", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("https://quay.io", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("quay.io:99999", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope",
    "the registry port is above 65535" },
  { IN_DOCKER ("quay.io:", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("quay.io/", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("quay.io//a", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("quay.io/Org/model", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("quay.io/a:b:c", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("quay.io/a@sha256:abc", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("quay.io/a@" D256 ":v1", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER (" quay.io", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("[::1", "[" ACCEPT "]"), MV_ERROR_SIGNATURE, "invalid scope" },
  { IN_DOCKER ("q.io", "[" ACCEPT "],'q.io/a:':[" ACCEPT "]"), MV_ERROR_SIGNATURE,
    "transports.docker[\"q.io/a:\"]: invalid scope" },
  /* An invalid scope's requirements are not looked at: the scope is refused first. */
  { IN_DOCKER ("library/x", "7"), MV_ERROR_SIGNATURE, "invalid scope" },
  /* Limits */
  { IN_DEFAULT (SIGSTORE (
        "'keyDatas':['LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=',"
        "'LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=',"
        "'LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=',"
        "'LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=',"
        "'LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=',"
        "'LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=',"
        "'LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=',"
        "'LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=','LS0tLS0=',"
        "'LS0tLS0=','LS0tLS0=']")),
    MV_ERROR_LIMIT_EXCEEDED, "default[0].keyDatas: 65 entries, above the limit of 64" },
  { "{'default':[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]"
    "]]]]]]]]]]]]]]]}",
    MV_ERROR_SIGNATURE, "nesting too deep" },
};

static void
test_refusals (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvPolicy) policy = NULL;

      g_test_message ("%zu: %s", i, bad[i].q);
      policy = parse_q (bad[i].q, &error);
      g_assert_null (policy);
      g_assert_error (error, MV_ERROR, (gint)bad[i].code);
      g_test_message ("  -> %s", error->message);
      g_assert_true (g_str_has_prefix (error->message, "policy '" POLICY_PATH "'"));
      g_assert_null (strchr (error->message, '\n'));
      assert_contains (error->message, bad[i].want);
      assert_contains (error->message, bad[i].want2);
    }
}

/* What is accepted at the edges of what is refused. */
static void
test_accepted_edges (void)
{
  static const char *const good[] = {
    IN_DEFAULT (ACCEPT),
    "{'default':[{'type':'reject'}],'transports':{}}",
    "{'default':[{'type':'reject'}],'transports':{'docker':{}}}",
    " \n\t{'default':[{'type':'reject'}]}\r\n",
    /* Unknown transports are checked and ignored, their scopes as written. */
    "{" OK_DEFAULT ",'transports':{'atomic':{'any thing/@#':[{'type':'reject'}]},'zzz':{}}}",
    /* Key files of other transports are never read (the path is checked only). */
    "{" OK_DEFAULT ",'transports':{'oci':{'':[" SIGSTORE ("'keyPath':'/nonexistent/k'") "]}}}",
    IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'matchRepoDigestOrExact'}")),
    IN_DEFAULT (SIGSTORE (KD ",'rekorPublicKeyData':'QUI='")),
    IN_DEFAULT ("{'type':'signedBy','keyType':'signedByGPGKeys','keyPaths':['rel/ok/for/gpg'],"
                "'signedIdentity':{'type':'matchRepository'}}"),
    IN_DEFAULT ("{'type':'signedBy','keyType':'X509Certificates','keyData':'LS0tLS0='}"),
    IN_DEFAULT (SIGSTORE ("'pki':{'caRootsData':'LS0tLS0=','caIntermediatesPath':'/i',"
                          "'subjectEmail':'e','subjectHostname':'h'}")),
    IN_DEFAULT (SIGSTORE ("'fulcio':{'caData':'LS0tLS0=','oidcIssuer':'i','subjectEmail':'e'},"
                          "'rekorPublicKeyDatas':['LS0tLS0=']")),
    IN_DEFAULT (SIGSTORE (KD ",'signedIdentity':{'type':'remapIdentity','prefix':'[::1]:5000/a',"
                             "'signedPrefix':'docker.io/library'}")),
  };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (MvPolicy) policy = parse_ok (good[i]);
    }
}

static void
test_size (void)
{
  const char *head = "{\"default\":[{\"type\":\"reject\"}]}";
  gsize head_len = strlen (head);
  g_autofree char *data = g_malloc (MV_POLICY_MAX + 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (MvPolicy) policy = NULL;

  memcpy (data, head, head_len);
  memset (data + head_len, ' ', MV_POLICY_MAX + 1 - head_len);
  data[MV_POLICY_MAX + 1] = '\0';
  /* MV_POLICY_MAX bytes: read */
  policy = mv_policy_parse (data, MV_POLICY_MAX, POLICY_PATH, &error);
  g_assert_no_error (error);
  g_assert_nonnull (policy);
  /* One more: refused before it is parsed */
  g_assert_null (mv_policy_parse (data, MV_POLICY_MAX + 1, POLICY_PATH, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  assert_contains (error->message, POLICY_PATH);
  g_clear_error (&error);

  /* keyData above MV_POLICY_KEY_MAX once decoded */
  {
    g_autofree char *raw = g_strnfill (MV_POLICY_KEY_MAX + 1, 'k');
    g_autofree char *b64 = g_base64_encode ((const guchar *)raw, strlen (raw));
    g_autofree char *q
        = g_strdup_printf ("{'default':[{'type':'sigstoreSigned','keyData':'%s'}]}", b64);
    g_assert_null (parse_q (q, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
    assert_contains (error->message, "default[0].keyData");
    g_clear_error (&error);
  }
  /* Not UTF-8, a NUL inside, NULL data */
  g_assert_null (mv_policy_parse ("{\"default\xff\":[]}", 15, POLICY_PATH, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
  g_clear_error (&error);
  g_assert_null (mv_policy_parse ("{\"default\":[]}\0{}", 17, POLICY_PATH, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
  g_clear_error (&error);
  g_assert_null (mv_policy_parse (NULL, 0, POLICY_PATH, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
  g_clear_error (&error);
  /* The path in messages is escaped. */
  g_assert_null (mv_policy_parse ("{}", 2, "/tmp/\x1b[2Jp.json", &error));
  g_assert_null (strchr (error->message, '\x1b'));
  assert_contains (error->message, "\\x1b[2Jp.json");
}

/* mv_policy_load */
static void
test_load (void)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *missing = g_build_filename (dir, "missing.json", NULL);
  g_autofree char *good
      = write_file (dir, "good.json", "{\"default\":[{\"type\":\"reject\"}]}", -1);
  g_autofree char *invalid = write_file (dir, "bad.json", "{\"default\":[]}", -1);
  g_autofree char *big_data = g_strnfill (MV_POLICY_MAX + 1, ' ');
  g_autofree char *big = write_file (dir, "big.json", big_data, -1);
  g_autofree char *link = g_build_filename (dir, "link.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MvPolicy) policy = NULL;
  const char *scope = "unset";
  GPtrArray *reqs;

  policy = mv_policy_load (good, &error);
  g_assert_no_error (error);
  reqs = mv_policy_lookup (policy, "q.io/a:v1", &scope);
  g_assert_null (scope);
  g_assert_cmpint (((MvPolicyRequirement *)reqs->pdata[0])->kind, ==, MV_POLICY_REJECT);
  g_clear_pointer (&policy, mv_policy_free);

  /* A symlink to a policy is followed (/etc/containers/policy.json often is one). */
  g_assert_no_errno (symlink (good, link));
  policy = mv_policy_load (link, &error);
  g_assert_no_error (error);
  g_assert_nonnull (policy);
  g_clear_pointer (&policy, mv_policy_free);

  /* No policy is not "accept anything". */
  g_assert_null (mv_policy_load (missing, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  assert_contains (error->message, missing);
  g_clear_error (&error);

  g_assert_null (mv_policy_load (dir, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_clear_error (&error);

  g_assert_null (mv_policy_load (invalid, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
  assert_contains (error->message, invalid);
  assert_contains (error->message, "default: an empty list of requirements");
  g_clear_error (&error);

  g_assert_null (mv_policy_load (big, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);

  g_assert_null (mv_policy_load ("/dev/null/x", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY);
  g_clear_error (&error);

  if (!is_root ())
    {
      g_assert_no_errno (g_chmod (good, 0));
      g_assert_null (mv_policy_load (good, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      assert_contains (error->message, good);
      g_clear_error (&error);
    }
  else
    g_test_message ("root: the unreadable policy case is skipped");
  rm_rf (dir);
}

/* Key fingerprints */
static void
test_fingerprint (void)
{
  g_autofree char *fp_a = fingerprint_of (KEY_A_B64);
  g_autofree char *fp_b = fingerprint_of (KEY_B_B64);
  struct
  {
    const char *pem;
    const char *want; /* "A", "B" or NULL */
  } cases[] = {
    { PEM_A, "A" },
    { PEM_B, "B" },
    { "junk before\n" PEM_A "junk after", "A" },
    { "-----BEGIN PUBLIC KEY-----\r\nAAECAwQF\r\n  BgcICQ==\r\n-----END PUBLIC KEY-----\r\n", "A" },
    { "-----BEGIN EC PUBLIC KEY-----\n" KEY_A_B64 "\n-----END EC PUBLIC KEY-----", "A" },
    { PEM_B PEM_A, "B" }, /* the first block */
    { "-----BEGIN PUBLIC KEY-----\n" KEY_A_B64 "\n-----END PRIVATE KEY-----\n", NULL },
    { "-----BEGIN PUBLIC KEY-----\n" KEY_A_B64 "\n", NULL },
    { "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", NULL },
    { "-----BEGIN PUBLIC KEY-----\nAAECAwQFBgcICQ\n-----END PUBLIC KEY-----\n", NULL },
    { "-----BEGIN PUBLIC KEY-----\nAAEC!wQFBgcICQ==\n-----END PUBLIC KEY-----\n", NULL },
    { "-----BEGIN PUBLIC\nKEY-----\n" KEY_A_B64 "\n-----END PUBLIC\nKEY-----\n", NULL },
    { "-----BEGIN ", NULL },
    { "-----BEGIN PUBLIC KEY----", NULL },
    { KEY_A_B64, NULL },
    { "", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) pem = g_bytes_new_static (cases[i].pem, strlen (cases[i].pem));
      g_autofree char *fp = mv_policy_key_fingerprint (pem);
      const char *want = cases[i].want == NULL              ? NULL
                         : g_str_equal (cases[i].want, "A") ? fp_a
                                                            : fp_b;
      g_test_message ("%zu", i);
      g_assert_cmpstr (fp, ==, want);
    }
  g_assert_null (mv_policy_key_fingerprint (NULL));
  g_assert_cmpuint (strlen (fp_a), ==, strlen ("SHA256:") + 64);
  g_assert_cmpstr (fp_a, !=, fp_b);
}

/* registries.d */

static void
assert_use (const char *dir, const char *reference, gboolean want_use, const char *want_source)
{
  static char unset[] = "unset";
  g_autoptr (GError) error = NULL;
  g_autofree char *source = NULL;
  char *out = unset;
  gboolean use = !want_use;

  g_test_message ("%s in %s", reference, dir);
  g_assert_true (mv_registries_d_use_sigstore_attachments (dir, reference, &use, &out, &error));
  g_assert_no_error (error);
  g_assert_true (out != unset);
  source = out;
  g_assert_cmpint (use, ==, want_use);
  if (want_source == NULL)
    g_assert_null (source);
  else
    assert_contains (source, want_source);
  /* out_source is optional */
  use = !want_use;
  g_assert_true (mv_registries_d_use_sigstore_attachments (dir, reference, &use, NULL, NULL));
  g_assert_cmpint (use, ==, want_use);
}

static void
assert_registries_d_fails (const char *dir, const char *want, const char *want2)
{
  g_autoptr (GError) error = NULL;
  gboolean use = TRUE;

  g_assert_false (mv_registries_d_use_sigstore_attachments (dir, "q.io/a:v1", &use, NULL, &error));
  g_assert_nonnull (error);
  g_test_message ("-> %s", error->message);
  assert_contains (error->message, want);
  assert_contains (error->message, want2);
}

static void
test_registries_d_lookup (void)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;
  g_autofree char *ignored = NULL;
  g_autofree char *sub = NULL;

  /* No directory, or nothing in it: off. */
  assert_use (missing, "q.io/a:v1", FALSE, NULL);
  assert_use (dir, "q.io/a:v1", FALSE, NULL);

  a = write_file (dir, "a.yaml",
                  "# the default\n"
                  "default-docker:\n"
                  "  use-sigstore-attachments: true\n"
                  "  lookaside: https://example.com/sigs\n",
                  -1);
  assert_use (dir, "q.io/a:v1", TRUE, "a.yaml default-docker");

  b = write_file (dir, "b.yaml",
                  "docker:\n"
                  "  q.io:\n"
                  "    use-sigstore-attachments: false\n"
                  "  q.io/org:\n"
                  "    use-sigstore-attachments: true\n"
                  "  q.io/org/team:\n"
                  "    lookaside: https://x\n" /* sets nothing: its parent decides */
                  "  q.io/org/team/m:v2:\n"
                  "    use-sigstore-attachments: false\n"
                  "  q.io/org/team/m@" D256 ":\n"
                  "    use-sigstore-attachments: false\n"
                  "  r.io:5000:\n"
                  "    use-sigstore-attachments: false\n"
                  "  '*.example.com':\n"
                  "    use-sigstore-attachments: false\n"
                  "  '*.sub.example.com':\n"
                  "    use-sigstore-attachments: true\n"
                  "  '':\n"
                  "    use-sigstore-attachments: false\n"
                  "  s.io:\n"
                  "  t.io: {use-sigstore-attachments: !!bool True}\n"
                  "  u.io: {use-sigstore-attachments: null}\n",
                  -1);
  /* Files that are not *.yaml are not read. */
  ignored = write_file (dir, "c.yml", "docker: [broken", -1);
  g_free (ignored);
  ignored = write_file (dir, "README", "not: [yaml", -1);
  g_free (ignored);
  ignored = write_file (dir, ".yaml.swp", "{", -1);
  sub = g_build_filename (dir, "sub", NULL);
  g_assert_no_errno (g_mkdir (sub, 0700));
  g_free (c);
  c = write_file (sub, "c.yaml", "default-docker: {use-sigstore-attachments: false}\n", -1);

  assert_use (dir, "q.io/a:v1", FALSE, "b.yaml docker[\"q.io\"]");
  assert_use (dir, "q.io/org/m:v1", TRUE, "b.yaml docker[\"q.io/org\"]");
  assert_use (dir, "q.io/orgx/m:v1", FALSE, "docker[\"q.io\"]");
  assert_use (dir, "q.io/org/team/m:v1", TRUE, "docker[\"q.io/org\"]");
  assert_use (dir, "q.io/org/team/m:v2", FALSE, "docker[\"q.io/org/team/m:v2\"]");
  assert_use (dir, "q.io/org/team/m@" D256, FALSE, "docker[\"q.io/org/team/m@" D256 "\"]");
  assert_use (dir, "q.io/org/team/m@" D256B, TRUE, "docker[\"q.io/org\"]");
  assert_use (dir, "r.io:5000/m:v1", FALSE, "docker[\"r.io:5000\"]");
  assert_use (dir, "r.io/m:v1", TRUE, "a.yaml default-docker");
  assert_use (dir, "x.example.com/m:v1", FALSE, "docker[\"*.example.com\"]");
  assert_use (dir, "x.sub.example.com/m:v1", TRUE, "docker[\"*.sub.example.com\"]");
  assert_use (dir, "sub.example.com/m:v1", FALSE, "docker[\"*.example.com\"]");
  /* A namespace with nothing set, or null: default-docker decides. */
  assert_use (dir, "s.io/m:v1", TRUE, "default-docker");
  assert_use (dir, "t.io/m:v1", TRUE, "docker[\"t.io\"]");
  assert_use (dir, "u.io/m:v1", TRUE, "default-docker");
  /* "" is no scope registries.d looks up. */
  assert_use (dir, "v.io/m:v1", TRUE, "default-docker");
  assert_use (dir, "NOT A REFERENCE", TRUE, "default-docker");

  g_assert_no_errno (g_unlink (a));
  assert_use (dir, "r.io/m:v1", FALSE, NULL);
  assert_use (dir, "q.io/org/m:v1", TRUE, "b.yaml");
  rm_rf (dir);
}

static void
test_registries_d_merge (void)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;

  a = write_file (dir, "10-a.yaml", "docker:\n  q.io/a:\n    use-sigstore-attachments: true\n", -1);
  b = write_file (dir, "20-b.yaml",
                  "docker:\n  q.io:\n    use-sigstore-attachments: false\n"
                  "default-docker:\n  use-sigstore-attachments: true\n",
                  -1);
  assert_use (dir, "q.io/a:v1", TRUE, "10-a.yaml docker[\"q.io/a\"]");
  assert_use (dir, "q.io/b:v1", FALSE, "20-b.yaml docker[\"q.io\"]");
  assert_use (dir, "z.io/b:v1", TRUE, "20-b.yaml default-docker");

  /* The same namespace in two files, even one that sets nothing: an error naming both. */
  c = write_file (dir, "30-c.yaml", "docker:\n  q.io/a:\n    lookaside: https://x\n", -1);
  assert_registries_d_fails (dir, "\"docker\" namespace \"q.io/a\" is defined both in",
                             "10-a.yaml");
  assert_registries_d_fails (dir, "30-c.yaml", NULL);
  g_assert_no_errno (g_unlink (c));
  g_free (c);
  c = write_file (dir, "30-c.yaml", "default-docker:\n  lookaside: https://x\n", -1);
  assert_registries_d_fails (dir, "\"default-docker\" is defined both in", "20-b.yaml");
  g_assert_no_errno (g_unlink (c));
  /* A null default-docker or docker is no definition (yaml.v3 leaves the pointer nil). */
  g_free (c);
  c = write_file (dir, "30-c.yaml", "default-docker:\ndocker: ~\n", -1);
  assert_use (dir, "z.io/b:v1", TRUE, "20-b.yaml default-docker");
  g_assert_no_errno (g_unlink (c));

  /* A broken file refuses the whole directory, naming it. */
  g_free (c);
  c = write_file (dir, "30-c.yaml", "docker:\n  q.io/c: [unterminated\n", -1);
  assert_registries_d_fails (dir, "registries.d '", "30-c.yaml': line");
  g_assert_no_errno (g_unlink (c));

  if (!is_root ())
    {
      g_assert_no_errno (g_chmod (a, 0));
      assert_registries_d_fails (dir, "registries.d", "10-a.yaml");
      g_assert_no_errno (g_chmod (a, 0600));
    }
  /* The directory is a file */
  assert_registries_d_fails (a, "registries.d", "10-a.yaml");
  /* Too big a file */
  {
    g_autofree char *big_data = g_strnfill (MV_REGISTRIES_D_FILE_MAX + 1, '#');
    g_autofree char *big = write_file (dir, "40-big.yaml", big_data, -1);
    g_autoptr (GError) error = NULL;
    gboolean use;
    g_assert_false (
        mv_registries_d_use_sigstore_attachments (dir, "q.io/a:v1", &use, NULL, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
    assert_contains (error->message, "40-big.yaml");
  }
  rm_rf (dir);
}

typedef struct
{
  const char *yaml;
  const char *want; /* NULL: accepted */
} YamlCase;

static const YamlCase yaml_cases[] = {
  { "", NULL },
  { "# only a comment\n", NULL },
  { "~\n", NULL },
  { "---\n...\n", NULL },
  { "docker:\n", NULL },
  { "unknown-key: [1, 2]\nprivate: {a: b}\n", NULL },
  { "docker:\n  q.io:\n    unknown: {deep: [1]}\n    sigstore: https://x\n", NULL },
  { "docker:\n  q.io:\n    use-sigstore-attachments: TRUE\n", NULL },
  { "docker:\n  q.io:\n    use-sigstore-attachments: False\n", NULL },
  { "docker:\n  q.io:\n    use-sigstore-attachments: !!bool false\n", NULL },
  { "docker:\n  '': {use-sigstore-attachments: true}\n", NULL },
  { "default-docker: {use-sigstore-attachments: true, lookaside-staging: 'file:///x'}\n", NULL },
  /* Refused */
  { "docker: [unterminated\n", "line" },
  { "\t- tab\n", "line" },
  { "- a\n- b\n", "the top level is not a mapping" },
  { "just a string\n", "the top level is not a mapping" },
  { "docker: [q.io]\n", "docker: not a mapping" },
  { "docker: q.io\n", "docker: not a mapping" },
  { "docker:\n  q.io: [a]\n", "docker[\"q.io\"]: not a mapping" },
  { "default-docker: true\n", "default-docker: not a mapping" },
  { "docker: {}\ndocker: {}\n", "the top level: key \"docker\" is defined twice" },
  { "docker:\n  q.io: {}\n  q.io: {}\n", "docker: key \"q.io\" is defined twice" },
  { "docker:\n  q.io:\n    use-sigstore-attachments: true\n    use-sigstore-attachments: true\n",
    "docker[\"q.io\"]: key \"use-sigstore-attachments\" is defined twice" },
  { "default-docker:\n  lookaside: a\n  lookaside: b\n", "key \"lookaside\" is defined twice" },
  { "docker:\n  q.io:\n    use-sigstore-attachments: yes\n",
    "docker[\"q.io\"].use-sigstore-attachments: not a boolean (true or false): \"yes\"" },
  { "docker:\n  q.io:\n    use-sigstore-attachments: 'true'\n", "not a boolean" },
  { "docker:\n  q.io:\n    use-sigstore-attachments: \"false\"\n", "not a boolean" },
  { "docker:\n  q.io:\n    use-sigstore-attachments: !!str true\n", "not a boolean" },
  { "docker:\n  q.io:\n    use-sigstore-attachments: 1\n", "not a boolean" },
  { "docker:\n  q.io:\n    use-sigstore-attachments: [true]\n", "\"a collection\"" },
  { "default-docker:\n  use-sigstore-attachments: on\n",
    "default-docker.use-sigstore-attachments: not a boolean" },
  { "docker:\n  q.io:\n    lookaside: [a]\n", "docker[\"q.io\"].lookaside: not a string" },
  { "default-docker:\n  sigstore-staging: {a: b}\n", "sigstore-staging: not a string" },
  { "docker:\n  library/busybox: {}\n", "docker[\"library/busybox\"]: invalid scope" },
  { "docker:\n  docker.io/busybox:1: {}\n", "invalid scope: not written in full" },
  { "docker:\n  busybox: {}\n", "docker[\"busybox\"]: invalid scope" },
  { "docker:\n  '*.q.io:5000': {}\n", "invalid scope" },
  { "docker:\n  ? [a, b]\n  : {}\n", "docker: a mapping key that is not a scalar" },
  { "? {a: b}\n: c\n", "the top level: a mapping key that is not a scalar" },
  { "d: &anchor {a: b}\ne: *anchor\n", "YAML anchors are not accepted" },
  { "d: &anchor x\n", "YAML anchors are not accepted" },
  { "docker: *x\n", "line" },
  { "a: 1\n---\nb: 2\n", "more than one YAML document" },
  { "docker:\n  \"q.io\\0x\": {}\n", "a NUL character in a scalar" },
  { "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
    "nested deeper than 32" },
  { "a: \xc3\x28\n", "line" },
};

static void
test_registries_d_parse (void)
{
  g_autofree char *dir = tmp_dir_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (yaml_cases); i++)
    {
      const YamlCase *c = &yaml_cases[i];
      g_autoptr (GError) error = NULL;
      g_autofree char *path = NULL;
      g_autofree char *shown = g_strescape (c->yaml, NULL);
      gboolean ok;

      g_test_message ("%zu: %s", i, shown);
      ok = mv_registries_d_parse_for_fuzzing (c->yaml, strlen (c->yaml), &error);
      if (c->want == NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
          g_test_message ("  -> %s", error->message);
          g_assert_true (g_str_has_prefix (error->message, "registries.d '"));
          assert_contains (error->message, c->want);
        }
      /* The same through a directory. */
      g_clear_error (&error);
      path = write_file (dir, "x.yaml", c->yaml, -1);
      {
        gboolean use;
        g_assert_cmpint (
            mv_registries_d_use_sigstore_attachments (dir, "q.io/a:v1", &use, NULL, &error), ==,
            c->want == NULL);
        if (c->want != NULL)
          {
            assert_contains (error->message, path);
            assert_contains (error->message, c->want);
          }
      }
    }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *big = g_strnfill (MV_REGISTRIES_D_FILE_MAX + 1, '#');
    g_assert_false (mv_registries_d_parse_for_fuzzing (big, MV_REGISTRIES_D_FILE_MAX + 1, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
    g_clear_error (&error);
    g_assert_true (mv_registries_d_parse_for_fuzzing (big, MV_REGISTRIES_D_FILE_MAX, &error));
    g_assert_no_error (error);
    g_assert_true (mv_registries_d_parse_for_fuzzing (NULL, 0, &error));
    g_assert_no_error (error);
  }
  rm_rf (dir);
}

/* Verdicts */

static MvVerdictRequirement *
record_new (const char *type, const char *key, const char *identity, const char *rekor_key)
{
  MvVerdictRequirement *r = g_new0 (MvVerdictRequirement, 1);
  r->type = g_strdup (type);
  r->format = g_strdup ("simple-signing");
  r->key = g_strdup (key);
  r->signed_identity = g_strdup (identity);
  r->rekor_key = g_strdup (rekor_key);
  r->integrated_time = -1;
  r->where = g_strdup ("sha256-" HEX64 ".sig layer 0");
  return r;
}

static MvVerdict *
verdict_new (gboolean accepted)
{
  MvVerdict *v = mv_verdict_new ();
  v->reference = g_strdup ("q.io/a/m:v1");
  v->signed_digest = g_strdup (D256);
  v->policy = g_strdup (POLICY_PATH);
  v->scope = g_strdup ("q.io/a");
  v->accepted = accepted;
  v->audit = !accepted;
  v->verified_at = 1700000000;
  return v;
}

static void
assert_satisfies (const MvVerdict *v, MvPolicy *policy, const char *reference, const char *want)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = mv_verdict_satisfies (v, policy, POLICY_PATH, reference, &error);

  if (want == NULL)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
  g_test_message ("-> %s", error->message);
  assert_contains (error->message, reference);
  assert_contains (error->message, POLICY_PATH);
  assert_contains (error->message, want);
}

static void
test_verdict_satisfies (void)
{
  g_autofree char *fp_a = fingerprint_of (KEY_A_B64);
  g_autofree char *fp_b = fingerprint_of (KEY_B_B64);
  g_autofree char *q = g_strdup_printf (
      "{'default':[{'type':'insecureAcceptAnything'}],'transports':{'docker':{"
      "'r.io':[{'type':'reject'}],"
      "'g.io':[{'type':'signedBy','keyType':'GPGKeys','keyPath':'/k'}],"
      "'q.io/a':[{'type':'sigstoreSigned','keyDatas':['%s','%s']}],"
      "'q.io/b':[{'type':'sigstoreSigned','keyData':'%s','rekorPublicKeyData':'%s'}],"
      "'q.io/c':[{'type':'sigstoreSigned','keyData':'%s','signedIdentity':{'type':"
      "'matchRepository'}}],"
      "'q.io/d':[{'type':'insecureAcceptAnything'},{'type':'sigstoreSigned','keyData':'%s'},"
      "{'type':'sigstoreSigned','keyData':'%s'}],"
      "'q.io/e':[{'type':'sigstoreSigned','keyData':'%s'}]"
      "}}}",
      pem_b_b64, pem_a_b64, pem_a_b64, pem_b_b64, pem_a_b64, pem_a_b64, pem_b_b64, pem_b_b64);
  g_autoptr (MvPolicy) policy = parse_ok (q);
  g_autoptr (MvVerdict) v = verdict_new (TRUE);
  g_autoptr (MvVerdict) audited = verdict_new (FALSE);
  g_autoptr (MvVerdict) none = verdict_new (TRUE);

  g_ptr_array_add (v->requirements, record_new ("insecureAcceptAnything", NULL, NULL, NULL));
  g_ptr_array_add (v->requirements, record_new ("sigstoreSigned", fp_a, "q.io/a/m:v1", NULL));

  /* Without a verdict: only what needs no signature. */
  assert_satisfies (NULL, policy, "x.io/m:v1", NULL);
  assert_satisfies (NULL, policy, "r.io/m:v1", "(scope r.io) rejects it");
  assert_satisfies (v, policy, "r.io/m:v1", "rejects it");
  assert_satisfies (NULL, policy, "g.io/m:v1", "signedBy (GPG) signatures are not supported");
  assert_satisfies (NULL, policy, "q.io/a/m:v1", "has no verified one");
  assert_satisfies (none, policy, "q.io/a/m:v1", "no signature was verified when it was pulled");

  /* Key A is one of the scope's keys; the identity is the reference. */
  assert_satisfies (v, policy, "q.io/a/m:v1", NULL);
  assert_satisfies (v, policy, "q.io/a/m:v2", "a tag must match exactly");
  assert_satisfies (v, policy, "q.io/a/m@" D256, NULL);
  assert_satisfies (v, policy, "q.io/a/other@" D256, "same repository");
  /* The scope now names another key only */
  assert_satisfies (v, policy, "q.io/e/m:v1", "which the policy does not name now");
  /* Audited pulls meet no signature requirement. */
  g_ptr_array_add (audited->requirements, record_new ("sigstoreSigned", fp_a, "q.io/a/m:v1", NULL));
  audited->reason = g_strdup ("no signature");
  assert_satisfies (audited, policy, "q.io/a/m:v1", "was only audited: no signature");
  assert_satisfies (audited, policy, "x.io/m:v1", NULL);

  /* Rekor: needed now, none checked then; then the wrong one; then the right one. */
  {
    g_autoptr (MvVerdict) r = verdict_new (TRUE);
    g_ptr_array_add (r->requirements, record_new ("sigstoreSigned", fp_a, "q.io/b/m:v1", NULL));
    assert_satisfies (r, policy, "q.io/b/m:v1", "needs a Rekor SET, and none was checked");
    g_ptr_array_add (r->requirements, record_new ("sigstoreSigned", fp_a, "q.io/b/m:v1", fp_a));
    assert_satisfies (r, policy, "q.io/b/m:v1", "not a Rekor key the policy names now");
    g_ptr_array_add (r->requirements, record_new ("sigstoreSigned", fp_a, "q.io/b/m:v1", fp_b));
    assert_satisfies (r, policy, "q.io/b/m:v1", NULL);
  }
  /* The identity rule is the one in force now. */
  {
    g_autoptr (MvVerdict) r = verdict_new (TRUE);
    g_ptr_array_add (r->requirements, record_new ("sigstoreSigned", fp_a, "q.io/c/m:v1", NULL));
    assert_satisfies (r, policy, "q.io/c/m:v2", NULL);
    assert_satisfies (r, policy, "q.io/c/n:v1", "matchRepository");
  }
  /* A bundle (no identity) is accepted for a pull by digest only. */
  {
    g_autoptr (MvVerdict) r = verdict_new (TRUE);
    g_ptr_array_add (r->requirements, record_new ("sigstoreSigned", fp_a, NULL, NULL));
    assert_satisfies (r, policy, "q.io/a/m@" D256, NULL);
    assert_satisfies (r, policy, "q.io/a/m:v1", "names no reference");
    assert_satisfies (r, policy, "q.io/c/m@" D256, "names no reference");
  }
  /* Every requirement of the scope must be met; one record may meet several. */
  {
    g_autoptr (MvVerdict) r = verdict_new (TRUE);
    g_ptr_array_add (r->requirements, record_new ("sigstoreSigned", fp_a, "q.io/d/m:v1", NULL));
    assert_satisfies (r, policy, "q.io/d/m:v1", "does not name now");
    g_ptr_array_add (r->requirements, record_new ("sigstoreSigned", fp_b, "q.io/d/m:v1", NULL));
    assert_satisfies (r, policy, "q.io/d/m:v1", NULL);
  }
  /* Records of other types are not signatures. */
  {
    g_autoptr (MvVerdict) r = verdict_new (TRUE);
    g_ptr_array_add (r->requirements,
                     record_new ("insecureAcceptAnything", fp_a, "q.io/a/m:v1", NULL));
    assert_satisfies (r, policy, "q.io/a/m:v1", "no signature was verified");
  }
}

static void
test_verdict_json (void)
{
  g_autofree char *fp_a = fingerprint_of (KEY_A_B64);
  g_autoptr (MvVerdict) v = verdict_new (TRUE);
  g_autoptr (MvVerdict) back = NULL;
  g_autoptr (GBytes) json = NULL;
  g_autoptr (GBytes) again = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *desc = NULL;
  MvVerdictRequirement *r;

  g_ptr_array_add (v->requirements, record_new ("insecureAcceptAnything", NULL, NULL, NULL));
  r = record_new ("sigstoreSigned", fp_a, "q.io/a/m:v1", fp_a);
  r->integrated_time = 1699999999;
  r->format = (g_free (r->format), g_strdup ("bundle"));
  g_ptr_array_add (v->requirements, r);
  json = mv_verdict_to_json (v);
  back = mv_verdict_parse (json, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->reference, ==, v->reference);
  g_assert_cmpstr (back->signed_digest, ==, D256);
  g_assert_cmpstr (back->policy, ==, POLICY_PATH);
  g_assert_cmpstr (back->scope, ==, "q.io/a");
  g_assert_null (back->reason);
  g_assert_true (back->accepted);
  g_assert_false (back->audit);
  g_assert_cmpint (back->verified_at, ==, 1700000000);
  g_assert_cmpuint (back->requirements->len, ==, 2);
  r = back->requirements->pdata[0];
  g_assert_cmpstr (r->type, ==, "insecureAcceptAnything");
  g_assert_null (r->key);
  g_assert_cmpint (r->integrated_time, ==, -1);
  r = back->requirements->pdata[1];
  g_assert_cmpstr (r->format, ==, "bundle");
  g_assert_cmpstr (r->key, ==, fp_a);
  g_assert_cmpstr (r->signed_identity, ==, "q.io/a/m:v1");
  g_assert_cmpstr (r->rekor_key, ==, fp_a);
  g_assert_cmpint (r->integrated_time, ==, 1699999999);
  g_assert_cmpstr (r->where, ==, "sha256-" HEX64 ".sig layer 0");
  again = mv_verdict_to_json (back);
  g_assert_true (g_bytes_equal (json, again));

  desc = mv_verdict_describe (back);
  assert_contains (desc, "accepted: insecureAcceptAnything, sigstoreSigned (bundle, key ");
  assert_contains (desc, fp_a);
  assert_contains (desc, "identity q.io/a/m:v1");
  assert_contains (desc, "; scope q.io/a of " POLICY_PATH);
  g_clear_pointer (&desc, g_free);

  /* Audit mode */
  {
    g_autoptr (MvVerdict) a = verdict_new (FALSE);
    g_autoptr (GBytes) aj = NULL;
    g_autoptr (MvVerdict) ab = NULL;
    a->reason = g_strdup ("no signature verified");
    aj = mv_verdict_to_json (a);
    ab = mv_verdict_parse (aj, &error);
    g_assert_no_error (error);
    g_assert_false (ab->accepted);
    g_assert_true (ab->audit);
    g_assert_cmpstr (ab->reason, ==, "no signature verified");
    desc = mv_verdict_describe (ab);
    g_assert_true (g_str_has_prefix (desc, "audit: would be refused: no signature verified"));
    g_clear_pointer (&desc, g_free);
  }
  {
    g_autoptr (MvVerdict) e = verdict_new (TRUE);
    desc = mv_verdict_describe (e);
    assert_contains (desc, "accepted: no requirement");
    g_clear_pointer (&desc, g_free);
  }

  /* Not a verdict */
  {
    static const char *const broken[] = {
      "",
      "[]",
      "{}",
      "{\"version\":2}",
      "{\"version\":\"1\"}",
      "{\"version\":1.0}",
      "{\"version\":1,\"version\":1}",
      "{\"version\":{}}",
      "{\"version\":null}",
    };
    for (gsize i = 0; i < G_N_ELEMENTS (broken); i++)
      {
        g_autoptr (GBytes) b = g_bytes_new_static (broken[i], strlen (broken[i]));
        g_assert_null (mv_verdict_parse (b, &error));
        g_assert_error (error, MV_ERROR, MV_ERROR_CORRUPTED);
        g_clear_error (&error);
      }
  }
  /* Wrong types inside read as absent: never accepted by accident. */
  {
    static const char text[]
        = "{\"version\":1,\"accepted\":\"yes\",\"reference\":5,\"requirements\":[1,{\"type\":2,"
          "\"key\":\"SHA256:x\",\"integrated-time\":\"3\"}]}";
    g_autoptr (GBytes) b = g_bytes_new_static (text, strlen (text));
    g_autoptr (MvVerdict) odd = mv_verdict_parse (b, &error);
    g_assert_no_error (error);
    g_assert_false (odd->accepted);
    g_assert_null (odd->reference);
    g_assert_cmpuint (odd->requirements->len, ==, 1);
    r = odd->requirements->pdata[0];
    g_assert_null (r->type);
    g_assert_cmpstr (r->key, ==, "SHA256:x");
    g_assert_cmpint (r->integrated_time, ==, -1);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pem_a_b64 = g_base64_encode ((const guchar *)PEM_A, strlen (PEM_A));
  pem_b_b64 = g_base64_encode ((const guchar *)PEM_B, strlen (PEM_B));

  g_test_add_func ("/policy/scope/tag", test_scope_tag);
  g_test_add_func ("/policy/scope/digest", test_scope_digest);
  g_test_add_func ("/policy/scope/tag-and-digest", test_scope_tag_and_digest);
  g_test_add_func ("/policy/scope/wildcards", test_scope_wildcards);
  g_test_add_func ("/policy/scope/default", test_scope_default);
  g_test_add_func ("/policy/scope/valid-forms", test_scope_valid_forms);
  g_test_add_func ("/policy/requirement/types", test_requirement_types);
  g_test_add_func ("/policy/requirement/key-files", test_key_files);
  g_test_add_func ("/policy/identity/parse", test_identity_parse);
  g_test_add_func ("/policy/identity/match", test_identity_match);
  g_test_add_func ("/policy/identity/match-parsed", test_identity_match_parsed);
  g_test_add_func ("/policy/identity/unnamed", test_identity_unnamed);
  g_test_add_func ("/policy/parse/refusals", test_refusals);
  g_test_add_func ("/policy/parse/accepted-edges", test_accepted_edges);
  g_test_add_func ("/policy/parse/size", test_size);
  g_test_add_func ("/policy/load", test_load);
  g_test_add_func ("/policy/key-fingerprint", test_fingerprint);
  g_test_add_func ("/policy/registries-d/lookup", test_registries_d_lookup);
  g_test_add_func ("/policy/registries-d/merge", test_registries_d_merge);
  g_test_add_func ("/policy/registries-d/parse", test_registries_d_parse);
  g_test_add_func ("/policy/verdict/satisfies", test_verdict_satisfies);
  g_test_add_func ("/policy/verdict/json", test_verdict_json);
  return g_test_run ();
}
