/* Unit tests of plugin/mv-registry: WWW-Authenticate challenges and token URLs (tables of good
 * and hostile input), credentials from auth.json and credential helpers, and the client's
 * requests against real servers the test starts: Debian's docker-registry (open, htpasswd,
 * and token auth with tests/lib/tokenserver.py) for manifests, blobs, Basic and Bearer auth
 * and Range resumes (through a proxy that breaks the first blob transfer), and a scripted
 * HTTP server on 127.0.0.1 for what no honest registry sends (wrong digests, redirects,
 * retries, odd challenges). The docker-registry parts are skipped without docker-registry.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mv-error-private.h"
#include "mv-mediatype-private.h"
#include "mv-registry-private.h"
#include "mv-source-private.h"

#define REF "registry.example.com/org/model:v1"
#define HEX0 "0000000000000000000000000000000000000000000000000000000000000000"

static void
assert_error_is (const GError *error, GQuark domain, int code, const char *message)
{
  g_assert_error (error, domain, code);
  g_assert_cmpstr (error->message, ==, message);
}

static void
assert_error_has (const GError *error, GQuark domain, int code, const char *part)
{
  g_assert_error (error, domain, code);
  if (strstr (error->message, part) == NULL)
    g_error ("error \"%s\" does not contain \"%s\"", error->message, part);
}

/* @tmpl with {ref} and {host} replaced (transfer full). */
static char *
expand (const char *tmpl, const char *ref, const char *host)
{
  GString *s = g_string_new (tmpl);
  g_string_replace (s, "{ref}", ref, 0);
  g_string_replace (s, "{host}", host, 0);
  return g_string_free (s, FALSE);
}

/* ---------------------------------------------------------------------------------------- */
/* Challenges                                                                               */

typedef struct
{
  const char *challenge;
  const char *key;
  const char *value; /* nullable */
} Param;

static const Param params[] = {
  { "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\","
    "scope=\"repository:org/model:pull\"",
    "realm", "https://auth.example.com/token" },
  { "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\","
    "scope=\"repository:org/model:pull\"",
    "service", "registry.example.com" },
  { "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\","
    "scope=\"repository:org/model:pull\"",
    "scope", "repository:org/model:pull" },
  { "Bearer realm=\"a\", service=\"b\"", "service", "b" },
  { "Basic realm=\"Registry Realm\"", "realm", "Registry Realm" },
  { "realm=\"first\"", "realm", "first" },
  { "Bearer realm=\"\"", "realm", "" },
  { "Bearer scope=\"repository:a:pull,push\",realm=\"r\"", "scope", "repository:a:pull,push" },
  { "Bearer scope=\"repository:a:pull,push\",realm=\"r\"", "realm", "r" },
  /* A key that ends another key's name is not that key. */
  { "Bearer xrealm=\"evil\",realm=\"good\"", "realm", "good" },
  { "Bearer myrealm=\"evil\"", "realm", NULL },
  { "Bearer subscope=\"x\"", "scope", NULL },
  /* Inside another value. */
  { "Bearer error=\"x=realm=\\\"evil\\\"\",realm=\"good\"", "realm", "good" },
  /* Absent, unquoted, unterminated, empty. */
  { "Bearer realm=\"r\"", "service", NULL },
  { "Bearer realm=https://auth.example.com/token", "realm", NULL },
  { "Bearer realm=\"https://auth.example.com/token", "realm", NULL },
  { "Bearer realm=\"", "realm", NULL },
  { "", "realm", NULL },
  { "Bearer", "realm", NULL },
  { "Bearer realm =\"r\"", "realm", NULL },
};

static void
test_challenge_param (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (params); i++)
    {
      g_autofree char *v = mv_registry_challenge_param (params[i].challenge, params[i].key);
      g_test_message ("'%s' %s", params[i].challenge, params[i].key);
      g_assert_cmpstr (v, ==, params[i].value);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Token URLs                                                                               */

typedef struct
{
  const char *challenge;
  const char *scope;
  gboolean insecure;
  const char *host;
  const char *url;   /* nullable: refused */
  const char *error; /* the whole message when refused */
} TokenUrl;

static const TokenUrl token_urls[] = {
  { "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\"",
    "repository:org/model:pull", FALSE, "registry.example.com",
    "https://auth.example.com/token?scope=repository%3Aorg%2Fmodel%3Apull"
    "&service=registry.example.com",
    NULL },
  /* A realm with a query of its own. */
  { "Bearer realm=\"https://auth.example.com/token?account=me\",service=\"svc\"",
    "repository:a:pull", FALSE, "r",
    "https://auth.example.com/token?account=me"
    "&scope=repository%3Aa%3Apull&service=svc",
    NULL },
  /* No scope (a login), no service. */
  { "Bearer realm=\"https://auth.example.com/token\",service=\"svc\"", "", FALSE, "r",
    "https://auth.example.com/token?service=svc", NULL },
  { "Bearer realm=\"https://auth.example.com/token\"", "repository:a:pull", FALSE, "r",
    "https://auth.example.com/token?scope=repository%3Aa%3Apull", NULL },
  { "Bearer realm=\"https://auth.example.com/token\"", "", FALSE, "r",
    "https://auth.example.com/token", NULL },
  /* What the registry names is escaped, whatever it holds. */
  { "Bearer realm=\"https://a.example/t\",service=\"a b&c=d#e?f/g\"",
    "repository:x:pull repository:y:pull", FALSE, "r",
    "https://a.example/t?scope=repository%3Ax%3Apull%20repository%3Ay%3Apull"
    "&service=a%20b%26c%3Dd%23e%3Ff%2Fg",
    NULL },
  { "Bearer realm=\"https://a.example/t\",service=\"\xc3\xa9\"", "", FALSE, "r",
    "https://a.example/t?service=%C3%A9", NULL },
  { "Bearer realm=\"https://a.example:8443/t\"", "", FALSE, "r", "https://a.example:8443/t", NULL },
  { "Bearer realm=\"https://[2001:db8::1]/t\"", "", FALSE, "r", "https://[2001:db8::1]/t", NULL },
  /* http: only from an insecure registry's own host (any port, any case). */
  { "Bearer realm=\"http://127.0.0.1:9999/token\",service=\"s\"", "repository:a:pull", TRUE,
    "127.0.0.1:5000", "http://127.0.0.1:9999/token?scope=repository%3Aa%3Apull&service=s", NULL },
  { "Bearer realm=\"http://Registry.Local/token\"", "", TRUE, "registry.local:5000",
    "http://Registry.Local/token", NULL },
  { "Bearer realm=\"http://[::1]:9999/token\"", "", TRUE, "[::1]:5000", "http://[::1]:9999/token",
    NULL },
  { "Bearer realm=\"http://registry.local/token\"", "", TRUE, "registry.local",
    "http://registry.local/token", NULL },
  /* Refused. */
  { "Bearer realm=\"http://127.0.0.1:9999/token\"", "", FALSE, "127.0.0.1:5000", NULL,
    REF ": refusing token realm 'http://127.0.0.1:9999/token' (not https)" },
  { "Bearer realm=\"http://auth.example.com/token\"", "", TRUE, "registry.local:5000", NULL,
    REF ": refusing token realm 'http://auth.example.com/token' (not https)" },
  { "Bearer realm=\"http://127.0.0.2/token\"", "", TRUE, "127.0.0.1", NULL,
    REF ": refusing token realm 'http://127.0.0.2/token' (not https)" },
  { "Bearer realm=\"ftp://auth.example.com/token\"", "", TRUE, "auth.example.com", NULL,
    REF ": refusing token realm 'ftp://auth.example.com/token' (not https)" },
  { "Bearer realm=\"file:///etc/passwd\"", "", TRUE, "localhost", NULL,
    REF ": refusing token realm 'file:///etc/passwd' (not https)" },
  { "Bearer realm=\"https:auth.example.com/token\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https:auth.example.com/token' (not https)" },
  { "Bearer realm=\"https:///token\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https:///token' (not https)" },
  { "Bearer realm=\"https://\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https://' (not https)" },
  { "Bearer realm=\"/token\"", "", FALSE, "r", NULL,
    REF ": refusing token realm '/token' (not https)" },
  { "Bearer realm=\"\"", "", FALSE, "r", NULL, REF ": refusing token realm '' (not https)" },
  { "Bearer realm=\"https://auth.example.com/t ok\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https://auth.example.com/t ok' (not https)" },
  { "Bearer realm=\"https://auth.example.com/t\r\nX-Injected: 1\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https://auth.example.com/t\\x0d\\x0aX-Injected: 1' (not https)" },
  { "Bearer realm=\"https://auth.example.com/t\tx\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https://auth.example.com/t\\x09x' (not https)" },
  { "Bearer realm=\"https://auth.example.com/\x7f\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https://auth.example.com/\\x7f' (not https)" },
  { "Bearer realm=\"https://auth.example.com/\x1b[31m\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https://auth.example.com/\\x1b[31m' (not https)" },
  { "Bearer realm=\"https://a b.example/t\"", "", FALSE, "r", NULL,
    REF ": refusing token realm 'https://a b.example/t' (not https)" },
  /* No realm. */
  { "Bearer service=\"svc\"", "", FALSE, "r", NULL, REF ": token challenge without a realm" },
  { "Bearer realm=\"https://unterminated", "", FALSE, "r", NULL,
    REF ": token challenge without a realm" },
  { "Bearer", "", FALSE, "r", NULL, REF ": token challenge without a realm" },
};

static void
test_token_url (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (token_urls); i++)
    {
      const TokenUrl *t = &token_urls[i];
      g_autoptr (GError) error = NULL;
      g_autofree char *url = NULL;
      g_autofree char *shown = g_strescape (t->challenge, NULL);

      g_test_message ("#%" G_GSIZE_FORMAT " %s (%s, %s)", i, shown,
                      t->insecure ? "insecure" : "secure", t->host);
      url = mv_registry_token_url (t->challenge, t->scope, REF, t->insecure, t->host, &error);
      if (t->url != NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (url, ==, t->url);
        }
      else
        {
          g_assert_null (url);
          assert_error_is (error, MV_ERROR, MV_ERROR_AUTH, t->error);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* A real HTTP server on 127.0.0.1, one connection at a time (as in test-http.c).           */

#include "mvtest-server.h"

typedef MvTestServer Server;
typedef MvTestHandler Handler;

/* The requests whose head starts with @prefix ("GET /v2/x "), in order (transfer container). */
static GPtrArray *
server_requests (Server *s, const char *prefix)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_mutex_lock (&s->mutex);
  for (guint i = 0; i < s->requests->len; i++)
    if (g_str_has_prefix (s->requests->pdata[i], prefix))
      g_ptr_array_add (out, g_strdup (s->requests->pdata[i]));
  g_mutex_unlock (&s->mutex);
  return out;
}

static void
server_reset (Server *s)
{
  g_mutex_lock (&s->mutex);
  g_ptr_array_set_size (s->requests, 0);
  g_mutex_unlock (&s->mutex);
}

static char *
request_header (const char *request, const char *name)
{
  g_autofree char *pat = g_strdup_printf ("\r\n%s: ", name);
  const char *p = strstr (request, pat);
  const char *end;
  if (p == NULL)
    return NULL;
  p += strlen (pat);
  end = strstr (p, "\r\n");
  return g_strndup (p, end - p);
}

/* A scripted registry: routes tried in order; the first whose request prefix and
 * Authorization match answers (a route may be used @times times, 0: any). */
typedef struct
{
  char *prefix;   /* "GET /v2/m/manifests/v1 " */
  char *authz;    /* NULL: any; "": none sent; else exactly this Authorization value */
  char *response; /* raw */
  guint times;
  guint used;
} Route;

/* Routes change between the client's requests while the server thread may still be sending
 * the last answer. */
static GMutex routes_lock;

static void
route_free (Route *r)
{
  g_free (r->prefix);
  g_free (r->authz);
  g_free (r->response);
  g_free (r);
}

static void route_add (GPtrArray *routes, guint times, const char *prefix, const char *authz,
                       const char *fmt, ...) G_GNUC_PRINTF (5, 6);

static void
route_add (GPtrArray *routes, guint times, const char *prefix, const char *authz, const char *fmt,
           ...)
{
  Route *r = g_new0 (Route, 1);
  va_list ap;

  va_start (ap, fmt);
  r->response = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  r->prefix = g_strdup (prefix);
  r->authz = g_strdup (authz);
  r->times = times;
  g_mutex_lock (&routes_lock);
  g_ptr_array_add (routes, r);
  g_mutex_unlock (&routes_lock);
}

static void
routes_truncate (GPtrArray *routes, guint len)
{
  g_mutex_lock (&routes_lock);
  g_ptr_array_set_size (routes, len);
  g_mutex_unlock (&routes_lock);
}

/* A 200 with @body (and @extra header lines, each ending in \r\n). */
static char *
ok_response (const char *extra, const char *body, gsize len)
{
  g_autofree char *head = g_strdup_printf (
      "HTTP/1.1 200 OK\r\n%sContent-Length: %" G_GSIZE_FORMAT "\r\n\r\n", extra, len);
  GString *s = g_string_new (head);
  g_string_append_len (s, body, len);
  return g_string_free (s, FALSE);
}

static void
handle_routes (Server *s, guint index, const char *request, int fd)
{
  GPtrArray *routes = (gpointer)s->data;
  g_autofree char *authz = request_header (request, "Authorization");
  g_autofree char *response = NULL;

  g_mutex_lock (&routes_lock);
  for (guint i = 0; i < routes->len && response == NULL; i++)
    {
      Route *r = routes->pdata[i];
      if (!g_str_has_prefix (request, r->prefix) || (r->times > 0 && r->used >= r->times))
        continue;
      if (r->authz != NULL && (*r->authz ? g_strcmp0 (authz, r->authz) != 0 : authz != NULL))
        continue;
      r->used++;
      response = g_strdup (r->response);
    }
  g_mutex_unlock (&routes_lock);
  if (response == NULL)
    response = g_strdup ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  mvtest_send_all (fd, response, strlen (response));
}

/* ---------------------------------------------------------------------------------------- */
/* Common setup                                                                             */

static char *test_tmp;     /* the program's own temporary directory */
static char *no_authfile;  /* a path that does not exist: no credentials */
static char *empty_certs;  /* an empty certs.d */
static char *helper_stdin; /* what docker-credential-mvgood read */

static void
write_file (const char *path, const char *contents, int mode)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

static char *
b64 (const char *s)
{
  return g_base64_encode ((const guchar *)s, strlen (s));
}

static char *
sha256 (const void *data, gsize len)
{
  g_autofree char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
  return g_strconcat ("sha256:", hex, NULL);
}

static MvSource *
source_new (const char *reference, const char *authfile, GError **error)
{
  MvRegistryOptions opts = { .tls_verify = FALSE,
                             .authfile = authfile ? authfile : no_authfile,
                             .certs_dir = empty_certs };
  return mv_registry_source_new (reference, &opts, error);
}

/* A file in the test's directory (transfer full: its path). */
static char *
tmp_file (const char *name, const char *contents, int mode)
{
  char *path = g_build_filename (test_tmp, name, NULL);
  write_file (path, contents, mode);
  return path;
}

static void
setup_globals (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *bin = NULL;
  g_autofree char *path = NULL;
  static const struct
  {
    const char *name;
    const char *script;
  } helpers[] = {
    { "docker-credential-mvgood",
      "#!/bin/sh\n[ \"$1\" = get ] || exit 2\ncat > \"$(dirname \"$0\")/mvgood.stdin\"\n"
      "printf '{\"ServerURL\":\"x\",\"Username\":\"alice\",\"Secret\":\"secret\"}'\n" },
    { "docker-credential-mvnone",
      "#!/bin/sh\ncat >/dev/null\necho 'credentials not found in native keychain'\nexit 1\n" },
    { "docker-credential-mvtoken",
      "#!/bin/sh\ncat >/dev/null\nprintf '{\"Username\":\"<token>\",\"Secret\":\"x\"}'\n" },
    { "docker-credential-mvfail", "#!/bin/sh\nexit 3\n" },
    { "docker-credential-mvjunk", "#!/bin/sh\ncat >/dev/null\necho not json\n" },
  };

  test_tmp = g_dir_make_tmp ("test-registry-XXXXXX", &error);
  g_assert_no_error (error);
  no_authfile = g_build_filename (test_tmp, "no-auth.json", NULL);
  empty_certs = g_build_filename (test_tmp, "certs.d", NULL);
  g_assert_cmpint (g_mkdir (empty_certs, 0700), ==, 0);
  bin = g_build_filename (test_tmp, "bin", NULL);
  g_assert_cmpint (g_mkdir (bin, 0700), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (helpers); i++)
    {
      g_autofree char *p = g_build_filename (bin, helpers[i].name, NULL);
      write_file (p, helpers[i].script, 0755);
    }
  helper_stdin = g_build_filename (bin, "mvgood.stdin", NULL);
  path = g_strconcat (bin, ":", g_getenv ("PATH"), NULL);
  g_setenv ("PATH", path, TRUE);
  /* Settings of the environment the test runs in are not the test's. */
  g_unsetenv ("MODELVOL_TIMEOUT");
  g_unsetenv ("MODELVOL_LOW_SPEED_TIME");
  g_unsetenv ("MODELVOL_LOW_SPEED_LIMIT");
  g_unsetenv ("MODELVOL_RETRY_AFTER_MAX");
  g_unsetenv ("REGISTRY_AUTH_FILE");
}

static void
rm_rf (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  g_autoptr (GError) error = NULL;
  int status = 0;
  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                &error);
  g_assert_no_error (error);
}

/* ---------------------------------------------------------------------------------------- */
/* Credentials                                                                              */

/* What goes wrong in a credentials file is said before any request, naming the file. */
static void
test_credentials_refused (void)
{
  static const char *const host = "127.0.0.1:1";
  const char *reference = "127.0.0.1:1/org/model:v1";
  g_autofree char *nocolon = b64 ("no-colon-here");
  g_autofree char *bad_json = tmp_file ("bad.json", "{\"auths\": ", 0600);
  g_autofree char *array = tmp_file ("array.json", "[]", 0600);
  g_autofree char *body_malformed
      = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", host, nocolon);
  g_autofree char *malformed = tmp_file ("malformed.json", body_malformed, 0600);
  g_autofree char *body_empty = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"\"}}}", host);
  g_autofree char *empty = tmp_file ("empty-auth.json", body_empty, 0600);
  g_autofree char *body_notb64
      = g_strdup_printf ("{\"auths\": {\"https://%s\": {\"auth\": \"!!!!\"}}}", host);
  g_autofree char *notb64 = tmp_file ("not-b64.json", body_notb64, 0600);
  g_autofree char *writable = tmp_file ("writable.json", "{\"auths\": {}}", 0666);
  g_autofree char *groupw = tmp_file ("groupw.json", "{\"auths\": {}}", 0620);
  struct
  {
    const char *file;
    const char *helper; /* credHelpers value, or NULL */
    int code;
    char *message; /* the whole message, or (with a leading '~') a part */
  } cases[] = {
    { malformed, NULL, MV_ERROR_AUTH,
      g_strdup_printf ("%s: the credentials for %s are malformed", malformed, host) },
    { empty, NULL, MV_ERROR_AUTH,
      g_strdup_printf ("%s: the credentials for %s are malformed", empty, host) },
    { notb64, NULL, MV_ERROR_AUTH,
      g_strdup_printf ("%s: the credentials for %s are malformed", notb64, host) },
    { writable, NULL, MV_ERROR_AUTH,
      g_strdup_printf ("credentials file '%s' is writable by others (mode 0666): make it 0600",
                       writable) },
    { groupw, NULL, MV_ERROR_AUTH,
      g_strdup_printf ("credentials file '%s' is writable by others (mode 0620): make it 0600",
                       groupw) },
    { bad_json, NULL, MV_ERROR_INVALID_MANIFEST,
      g_strdup_printf ("~%s is not valid JSON", bad_json) },
    { array, NULL, MV_ERROR_INVALID_MANIFEST, g_strdup_printf ("%s is not a JSON object", array) },
    { NULL, "../../bin/sh", MV_ERROR_AUTH,
      g_strdup ("credential helper name '../../bin/sh' is not valid") },
    { NULL, "a b", MV_ERROR_AUTH, g_strdup ("credential helper name 'a b' is not valid") },
    { NULL, "", MV_ERROR_AUTH, g_strdup ("credential helper name '' is not valid") },
    { NULL, "x\\u001b[31m", MV_ERROR_AUTH,
      g_strdup ("credential helper name 'x\\x1b[31m' is not valid") },
    { NULL, "mvtoken", MV_ERROR_AUTH,
      g_strdup_printf (
          "credential helper docker-credential-mvtoken gave no usable user name for %s", host) },
    { NULL, "mvfail", MV_ERROR_AUTH,
      g_strdup_printf ("credential helper docker-credential-mvfail failed for %s", host) },
    { NULL, "mvjunk", MV_ERROR_INVALID_MANIFEST,
      g_strdup ("~docker-credential-mvjunk is not valid JSON") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvSource) source = NULL;
      g_autofree char *file = NULL;

      if (cases[i].helper != NULL)
        {
          g_autofree char *body = g_strdup_printf ("{\"credHelpers\": {\"%s\": \"%s\"}, "
                                                   "\"auths\": {\"%s\": {\"auth\": \"%s\"}}}",
                                                   host, cases[i].helper, host, nocolon);
          file = tmp_file ("helper.json", body, 0600);
        }
      else
        file = g_strdup (cases[i].file);
      g_test_message ("#%" G_GSIZE_FORMAT ": %s", i, cases[i].message);
      source = source_new (reference, file, &error);
      g_assert_null (source);
      if (cases[i].message[0] == '~')
        assert_error_has (error, MV_ERROR, cases[i].code, cases[i].message + 1);
      else
        assert_error_is (error, MV_ERROR, cases[i].code, cases[i].message);
      g_free (cases[i].message);
    }
}

/* Files that give no credentials for the host, without an error. */
static void
test_credentials_none (void)
{
  const char *reference = "127.0.0.1:1/org/model:v1";
  const char *bodies[] = {
    "{}",
    "{\"auths\": {}}",
    "{\"auths\": []}",
    "{\"auths\": {\"127.0.0.1:2\": {\"auth\": \"dTpw\"}}}",
    "{\"auths\": {\"127.0.0.1:1\": \"dTpw\"}}",
    "{\"auths\": {\"127.0.0.1:1\": {}}}",
    "{\"auths\": {\"127.0.0.1:1\": {\"auth\": null}}}",
    "{\"auths\": {\"127.0.0.1:1\": {\"auth\": 5}}}",
    "{\"auths\": {\"127.0.0.1:1\": {\"auth\": {}}}}",
    "{\"auths\": {\"127.0.0.1:1\": {\"auth\": [\"dTpw\"]}}}",
    "{\"credHelpers\": {\"127.0.0.1:1\": 5}, \"auths\": {}}",
    "{\"credHelpers\": [], \"credsStore\": 7}",
    "{\"credHelpers\": {\"127.0.0.1:1\": \"mvnone\"}}",
    "{\"credsStore\": \"mvnone\"}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *file = tmp_file ("none.json", bodies[i], 0600);
      g_autoptr (MvSource) source = NULL;

      g_test_message ("%s", bodies[i]);
      source = source_new (reference, file, &error);
      g_assert_no_error (error);
      g_assert_nonnull (source);
    }
  {
    /* Not there at all, and a directory path that does not exist. */
    g_autoptr (GError) error = NULL;
    g_autoptr (MvSource) a = source_new (reference, no_authfile, &error);
    g_autoptr (MvSource) b = NULL;
    g_autofree char *deep = g_build_filename (test_tmp, "no", "such", "auth.json", NULL);
    g_assert_no_error (error);
    g_assert_nonnull (a);
    b = source_new (reference, deep, &error);
    g_assert_no_error (error);
    g_assert_nonnull (b);
  }
}

/* ---------------------------------------------------------------------------------------- */
/* A scripted registry: what an honest one does not send                                    */

typedef struct
{
  GPtrArray *routes;
  Server *server;
  char *host;      /* 127.0.0.1:PORT */
  char *reference; /* HOST/m:v1 */
} Fake;

static void
fake_init (Fake *f)
{
  f->routes = g_ptr_array_new_with_free_func ((GDestroyNotify)route_free);
  f->server = mvtest_server_new (handle_routes, f->routes);
  f->host = g_strdup_printf ("127.0.0.1:%u", f->server->port);
  f->reference = g_strdup_printf ("%s/m:v1", f->host);
  route_add (f->routes, 0, "GET /v2/ ", NULL, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

static void
fake_clear (Fake *f)
{
  mvtest_server_free (f->server);
  g_ptr_array_unref (f->routes);
  g_free (f->host);
  g_free (f->reference);
}

static const char manifest_body[]
    = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}";

static void
test_fake_manifest_digest (void)
{
  Fake f;
  g_autofree char *digest = sha256 (manifest_body, strlen (manifest_body));
  g_autofree char *sha512 = g_strconcat ("sha512:", HEX0, HEX0, NULL);
  struct
  {
    const char *extra; /* headers */
    gboolean by_digest;
    char *error; /* NULL: fine */
  } cases[] = {
    { "", FALSE, NULL },
    { "Docker-Content-Digest: sha256:" HEX0 "\r\n", FALSE, NULL },
    { NULL, FALSE, NULL },
    { "Docker-Content-Digest: \x1b[31mx\r\n", FALSE, NULL },
    { "Docker-Content-Digest: sha256:" HEX0 "\x1b[31m\r\n", FALSE, NULL },
    { "", TRUE, NULL },
  };

  fake_init (&f);
  cases[1].error = g_strdup_printf ("%s: Docker-Content-Digest sha256:" HEX0
                                    " disagrees with the manifest (%s)",
                                    f.reference, digest);
  /* An algorithm other than ours is not compared. */
  cases[2].extra = g_strdup_printf ("Docker-Content-Digest: %s\r\n", sha512);
  cases[4].error = g_strdup_printf ("%s: Docker-Content-Digest sha256:" HEX0
                                    "\\x1b[31m disagrees with the manifest (%s)",
                                    f.reference, digest);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvSource) source = NULL;
      g_autoptr (MvDescriptor) desc = NULL;
      g_autofree char *ref_name = NULL;
      g_autofree char *extra
          = g_strconcat (cases[i].extra, "Content-Type: " MV_OCI_MANIFEST "\r\n", NULL);
      g_autofree char *reference = g_strdup (f.reference);
      g_autofree char *resp = ok_response (extra, manifest_body, strlen (manifest_body));

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      routes_truncate (f.routes, 1);
      if (cases[i].by_digest)
        {
          g_free (reference);
          reference = g_strdup_printf ("%s/m@sha256:%s", f.host, HEX0);
          route_add (f.routes, 0, "GET /v2/m/manifests/sha256:" HEX0 " ", NULL, "%s", resp);
          cases[i].error = g_strdup_printf ("%s: the manifest hashes to %s", reference, digest);
        }
      else
        route_add (f.routes, 0, "GET /v2/m/manifests/v1 ", NULL, "%s", resp);
      source = source_new (reference, NULL, &error);
      g_assert_no_error (error);
      desc = source->klass->get_root (source, &ref_name, NULL, &error);
      if (cases[i].error == NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (desc->digest, ==, digest);
          g_assert_cmpint (desc->size, ==, strlen (manifest_body));
          g_assert_cmpstr (desc->media_type, ==, MV_OCI_MANIFEST);
          g_assert_cmpstr (ref_name, ==, reference);
        }
      else
        {
          g_assert_null (desc);
          assert_error_is (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH, cases[i].error);
        }
      g_free (cases[i].error);
    }
  g_free ((char *)cases[2].extra);
  fake_clear (&f);
}

/* A blob that is not what its digest says, or not its size. */
static void
test_fake_blob_verified (void)
{
  Fake f;
  static const char blob[] = "the config";
  g_autofree char *digest = sha256 (blob, strlen (blob));
  g_autofree char *other = sha256 ("other", 5);
  g_autofree char *resp = ok_response ("", blob, strlen (blob));
  g_autofree char *path_good = NULL;
  g_autofree char *path_bad = NULL;
  g_autoptr (MvSource) source = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *msg = NULL;

  fake_init (&f);
  path_good = g_strdup_printf ("GET /v2/m/blobs/%s ", digest);
  path_bad = g_strdup_printf ("GET /v2/m/blobs/%s ", other);
  route_add (f.routes, 0, path_good, NULL, "%s", resp);
  route_add (f.routes, 0, path_bad, NULL, "%s", resp);
  source = source_new (f.reference, NULL, &error);
  g_assert_no_error (error);

  bytes = mv_source_fetch_verified (source, digest, strlen (blob), 1024, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), blob, strlen (blob));
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = mv_source_fetch_verified (source, other, strlen (blob), 1024, FALSE, NULL, &error);
  g_assert_null (bytes);
  g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
  g_clear_error (&error);

  bytes = mv_source_fetch_verified (source, digest, strlen (blob) + 1, 1024, FALSE, NULL, &error);
  g_assert_null (bytes);
  msg = g_strdup_printf ("blob %s has 10 bytes, its descriptor says 11", digest);
  assert_error_is (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH, msg);
  g_clear_error (&error);

  /* Over the cap: refused by the client's body cap. */
  bytes = mv_source_fetch_verified (source, digest, -1, 5, FALSE, NULL, &error);
  g_assert_null (bytes);
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);

  /* A digest that is not one never reaches the registry. */
  bytes = mv_source_fetch_verified (source, "sha256:../../x", -1, 1024, FALSE, NULL, &error);
  g_assert_null (bytes);
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
  {
    g_autoptr (GPtrArray) gets = server_requests (f.server, "GET /v2/m/blobs/sha256:..");
    g_assert_cmpuint (gets->len, ==, 0);
  }
  g_clear_pointer (&source, mv_source_free);
  fake_clear (&f);
}

typedef struct
{
  const char *first;   /* the first answer to the manifest request */
  const char *error;   /* NULL: the second answer (the manifest) is taken */
  guint manifest_gets; /* manifest requests in all */
} StatusCase;

static void
test_fake_statuses (void)
{
  StatusCase cases[] = {
    /* Retried: 5xx and 429 (with Retry-After). */
    { "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", NULL, 2 },
    { "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", NULL, 2 },
    { "HTTP/1.1 429 Slow Down\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n", NULL, 2 },
    /* Final. */
    { "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
      "{ref}: m/manifests/v1 not found on the registry", 1 },
    { "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "{ref}: forbidden (HTTP 403)", 1 },
    { "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", "{ref}: unauthorized", 1 },
    { "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n",
      "{ref}: unsupported authentication scheme", 1 },
    { "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"r\"\r\n"
      "Content-Length: 0\r\n\r\n",
      "{ref}: the registry wants credentials (modelvol login {host})", 1 },
    { "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://localhost:1/t\"\r\n"
      "Content-Length: 0\r\n\r\n",
      "{ref}: refusing token realm 'http://localhost:1/t' (not https)", 1 },
    { "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer service=\"s\"\r\n"
      "Content-Length: 0\r\n\r\n",
      "{ref}: token challenge without a realm", 1 },
    { "HTTP/1.1 418 Teapot\r\nContent-Length: 0\r\n\r\n",
      "{ref}: m/manifests/v1: unexpected status (HTTP 418)", 1 },
    { "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
      "{ref}: m/manifests/v1: unexpected status (HTTP 302)", 1 },
  };
  Fake f;
  g_autofree char *digest = sha256 (manifest_body, strlen (manifest_body));
  g_autofree char *resp = ok_response ("", manifest_body, strlen (manifest_body));

  fake_init (&f);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvSource) source = NULL;
      g_autoptr (MvDescriptor) desc = NULL;
      g_autoptr (GPtrArray) gets = NULL;
      guint before;

      g_test_message ("%s", cases[i].first);
      routes_truncate (f.routes, 1);
      route_add (f.routes, 1, "GET /v2/m/manifests/v1 ", NULL, "%s", cases[i].first);
      route_add (f.routes, 0, "GET /v2/m/manifests/v1 ", NULL, "%s", resp);
      gets = server_requests (f.server, "GET /v2/m/manifests/v1 ");
      before = gets->len;
      source = source_new (f.reference, NULL, &error);
      g_assert_no_error (error);
      desc = source->klass->get_root (source, NULL, NULL, &error);
      g_ptr_array_unref (gets);
      gets = server_requests (f.server, "GET /v2/m/manifests/v1 ");
      g_assert_cmpuint (gets->len - before, ==, cases[i].manifest_gets);
      if (cases[i].error == NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (desc->digest, ==, digest);
        }
      else
        {
          g_autofree char *msg = expand (cases[i].error, f.reference, f.host);
          g_assert_null (desc);
          g_assert_nonnull (error);
          g_assert_cmpstr (error->message, ==, msg);
        }
    }
  fake_clear (&f);
}

/* Retry-After is honoured (capped by MODELVOL_RETRY_AFTER_MAX). */
static void
test_fake_retry_after (void)
{
  Fake f;
  g_autofree char *resp = ok_response ("", manifest_body, strlen (manifest_body));
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSource) source = NULL;
  g_autoptr (MvDescriptor) desc = NULL;
  gint64 start, took;

  fake_init (&f);
  route_add (f.routes, 1, "GET /v2/m/manifests/v1 ", NULL,
             "HTTP/1.1 429 Slow Down\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n");
  route_add (f.routes, 1, "GET /v2/m/manifests/v1 ", NULL,
             "HTTP/1.1 429 Slow Down\r\nRetry-After: 3600\r\nContent-Length: 0\r\n\r\n");
  route_add (f.routes, 0, "GET /v2/m/manifests/v1 ", NULL, "%s", resp);
  g_setenv ("MODELVOL_RETRY_AFTER_MAX", "1", TRUE);
  source = source_new (f.reference, NULL, &error);
  g_unsetenv ("MODELVOL_RETRY_AFTER_MAX");
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  desc = source->klass->get_root (source, NULL, NULL, &error);
  took = g_get_monotonic_time () - start;
  g_assert_no_error (error);
  g_assert_nonnull (desc);
  /* 1 s, then 3600 s capped to 1 s. */
  g_assert_cmpint (took, >=, 2 * G_USEC_PER_SEC - 100 * 1000);
  g_assert_cmpint (took, <, 6 * G_USEC_PER_SEC);
  fake_clear (&f);
}

/* Redirects: followed on the same terms as the registry itself (https, or http on the same
 * host of an insecure registry), credentials only to the registry's own host and port. */
static void
test_fake_redirects (void)
{
  static const char blob[] = "blob bytes";
  g_autofree char *digest = sha256 (blob, strlen (blob));
  g_autofree char *blob_resp = ok_response ("", blob, strlen (blob));
  g_autofree char *cred = b64 ("alice:secret");
  g_autofree char *authz = g_strconcat ("Basic ", cred, NULL);
  g_autoptr (GPtrArray) cdn_routes = g_ptr_array_new_with_free_func ((GDestroyNotify)route_free);
  g_autoptr (MvTestServer) cdn = mvtest_server_new (handle_routes, cdn_routes);
  g_autofree char *blob_get = g_strdup_printf ("GET /v2/m/blobs/%s ", digest);
  Fake f;
  g_autofree char *authfile = NULL;
  g_autofree char *auth_body = NULL;
  guint cdn_expected = 0;
  struct
  {
    char *location;
    const char *error; /* NULL: the blob arrives */
  } cases[] = {
    { g_strdup_printf ("http://127.0.0.1:%u/cdn/blob", cdn->port), NULL },
    { g_strdup ("/same/blob"), NULL },
    { g_strdup ("same/relative"), NULL },
    { g_strdup_printf ("http://localhost:%u/cdn/blob", cdn->port),
      "{ref}: refusing redirect to a non-https location" },
    { g_strdup ("ftp://127.0.0.1/blob"), "{ref}: refusing redirect to a non-https location" },
    { g_strdup ("file:///etc/passwd"), "{ref}: refusing redirect to a non-https location" },
    { g_strdup ("/loop"), "{ref}: more than 5 redirects" },
  };

  fake_init (&f);
  auth_body = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", f.host, cred);
  authfile = tmp_file ("redirect-auth.json", auth_body, 0600);
  route_add (cdn_routes, 0, "GET /cdn/blob ", NULL, "%s", blob_resp);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvSource) source = NULL;
      g_autoptr (GBytes) bytes = NULL;
      g_autoptr (GPtrArray) cdn_gets = NULL;

      g_test_message ("Location: %s", cases[i].location);
      routes_truncate (f.routes, 1);
      /* Basic auth on the registry: the first request, without it, is challenged. */
      route_add (f.routes, 0, "GET ", "",
                 "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic "
                 "realm=\"r\"\r\nContent-Length: 0\r\n\r\n");
      route_add (f.routes, 0, blob_get, authz,
                 "HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n",
                 cases[i].location);
      route_add (f.routes, 0, "GET /same/blob ", authz, "%s", blob_resp);
      route_add (f.routes, 0, "GET /v2/m/blobs/same/relative ", authz, "%s", blob_resp);
      route_add (f.routes, 0, "GET /loop ", authz,
                 "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n");
      source = source_new (f.reference, authfile, &error);
      g_assert_no_error (error);
      bytes = mv_source_fetch_verified (source, digest, strlen (blob), 1024, FALSE, NULL, &error);
      cdn_gets = server_requests (cdn, "GET /cdn/blob ");
      if (i == 0)
        cdn_expected++;
      g_assert_cmpuint (cdn_gets->len, ==, cdn_expected);
      if (cases[i].error == NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), blob,
                           strlen (blob));
        }
      else
        {
          g_autofree char *msg = expand (cases[i].error, f.reference, f.host);
          g_assert_null (bytes);
          g_assert_nonnull (error);
          g_assert_cmpstr (error->message, ==, msg);
        }
      g_free (cases[i].location);
    }
  {
    /* The other port got the request, never the credentials. */
    g_autoptr (GPtrArray) cdn_gets = server_requests (cdn, "GET /cdn/blob ");
    g_assert_cmpuint (cdn_gets->len, ==, 1);
    g_assert_null (strstr (cdn_gets->pdata[0], "Authorization"));
  }
  fake_clear (&f);
}

/* A token server as the fake registry's own realm: what it sends back. */
static void
test_fake_token_server (void)
{
  Fake f;
  g_autofree char *resp = ok_response ("", manifest_body, strlen (manifest_body));
  g_autofree char *challenge = NULL;
  g_autofree char *cred = b64 ("alice:secret");
  g_autofree char *authfile = NULL;
  g_autofree char *auth_body = NULL;
  struct
  {
    int status;
    const char *body;
    const char *error;   /* NULL: the manifest arrives with "Bearer good" */
    gboolean with_creds; /* auth.json has credentials: Basic to the token server */
  } cases[] = {
    { 200, "{\"token\":\"good\"}\n", NULL, FALSE },
    { 200, "{\"access_token\":\"good\"}", NULL, FALSE },
    { 200, "{\"token\":\"good\",\"access_token\":\"other\"}", NULL, FALSE },
    { 200, "{\"token\":\"good\",\"expires_in\":\"never\"}", NULL, FALSE },
    { 200, "{\"token\":\"good\",\"expires_in\":-5}", NULL, FALSE },
    { 200, "{\"token\":\"\"}", "{ref}: the token server sent no usable token", FALSE },
    { 200, "{\"token\":\"a\\r\"}", "{ref}: the token server sent no usable token", FALSE },
    { 200, "{\"token\":\"a\\nX-Evil: 1\"}", "{ref}: the token server sent no usable token", FALSE },
    { 200, "{\"token\":5}", "{ref}: the token server sent no usable token", FALSE },
    { 200, "{}", "{ref}: the token server sent no usable token", FALSE },
    { 200, "[]", "token is not a JSON object", FALSE },
    { 200, "tok", "token is not valid JSON", FALSE },
    { 403, "", "{ref}: the token server answered 403", FALSE },
    { 200, "{\"token\":\"good\"}", NULL, TRUE },
  };

  fake_init (&f);
  auth_body = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", f.host, cred);
  authfile = tmp_file ("token-auth.json", auth_body, 0600);
  challenge = g_strdup_printf ("Bearer realm=\"http://127.0.0.1:%u/token\",service=\"fake\","
                               "scope=\"repository:m:pull\"",
                               f.server->port);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvSource) source = NULL;
      g_autoptr (MvDescriptor) desc = NULL;
      g_autoptr (GPtrArray) tokens = NULL;
      g_autofree char *basic = NULL;
      gboolean with_creds = cases[i].with_creds;
      g_autofree char *token_resp
          = cases[i].status == 200
                ? ok_response ("Content-Type: application/json\r\n", cases[i].body,
                               strlen (cases[i].body))
                : g_strdup_printf ("HTTP/1.1 %d No\r\nContent-Length: 0\r\n\r\n", cases[i].status);

      g_test_message ("%d %s", cases[i].status, cases[i].body);
      routes_truncate (f.routes, 1);
      route_add (f.routes, 0, "GET /token?scope=repository%3Am%3Apull&service=fake ", NULL, "%s",
                 token_resp);
      route_add (f.routes, 0, "GET /v2/m/manifests/v1 ", "Bearer good", "%s", resp);
      route_add (f.routes, 0, "GET /v2/m/manifests/v1 ", NULL,
                 "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: %s\r\nContent-Length: 0\r\n\r\n",
                 challenge);
      tokens = server_requests (f.server, "GET /token");
      server_reset (f.server);
      source = source_new (f.reference, with_creds ? authfile : NULL, &error);
      g_assert_no_error (error);
      desc = source->klass->get_root (source, NULL, NULL, &error);
      g_ptr_array_unref (tokens);
      tokens = server_requests (f.server, "GET /token");
      g_assert_cmpuint (tokens->len, ==, 1);
      basic = request_header (tokens->pdata[0], "Authorization");
      if (with_creds)
        {
          g_autofree char *want = g_strconcat ("Basic ", cred, NULL);
          g_assert_cmpstr (basic, ==, want);
        }
      else
        g_assert_null (basic);
      if (cases[i].error == NULL)
        {
          g_autoptr (GPtrArray) gets = server_requests (f.server, "GET /v2/m/manifests/v1 ");
          g_assert_no_error (error);
          g_assert_nonnull (desc);
          g_assert_cmpuint (gets->len, ==, 2);
        }
      else
        {
          g_autofree char *msg = expand (cases[i].error, f.reference, f.host);
          g_assert_null (desc);
          g_assert_nonnull (error);
          if (strstr (error->message, msg) == NULL)
            g_error ("error \"%s\" does not contain \"%s\"", error->message, msg);
        }
    }
  fake_clear (&f);
}

/* ---------------------------------------------------------------------------------------- */
/* docker-registry                                                                          */

typedef struct
{
  char *dir;
  GSubprocess *open; /* no auth: where the test pushes */
  guint16 open_port;
  GSubprocess *auth; /* htpasswd or token auth on the same storage, or NULL */
  guint16 auth_port;
  GSubprocess *tokens; /* tokenserver.py, or NULL */
  guint16 token_port;
  char *token_log;
  /* What was pushed to models/tiny:v1. */
  char *config;
  gsize layer_size;
  guint8 *layer;
  char *config_digest;
  char *layer_digest;
  char *manifest;
  char *manifest_digest;
} Fixture;

typedef enum
{
  AUTH_NONE,
  AUTH_HTPASSWD,
  AUTH_TOKEN,
  AUTH_TOKEN_PRIVATE, /* token auth, models/tiny pull for alice only */
} AuthKind;

#define LAYER_SIZE (600 * 1000)
#define USERS "alice:secret"

static gboolean
have_registry (void)
{
  g_autofree char *p = g_find_program_in_path ("docker-registry");
  if (p == NULL)
    g_test_skip ("docker-registry is not installed");
  return p != NULL;
}

static size_t
discard_cb (char *buf, size_t size, size_t n, void *data)
{
  return size * n;
}

static size_t
location_cb (char *buf, size_t size, size_t n, void *data)
{
  char **out = data;
  gsize len = size * n;
  if (len > 9 && g_ascii_strncasecmp (buf, "Location:", 9) == 0)
    {
      g_free (*out);
      *out = g_strstrip (g_strndup (buf + 9, len - 9));
    }
  return len;
}

/* A plain libcurl request, as a client that pushes would make it: the status (0: none). */
static long
raw_request (const char *method, const char *url, const void *body, gsize len,
             const char *content_type, char **out_location)
{
  CURL *curl = curl_easy_init ();
  struct curl_slist *hdrs = NULL;
  g_autofree char *ct = content_type ? g_strconcat ("Content-Type: ", content_type, NULL) : NULL;
  long status = 0;

  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, discard_cb);
  if (out_location != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, location_cb);
      curl_easy_setopt (curl, CURLOPT_HEADERDATA, out_location);
    }
  if (body != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
  if (ct != NULL)
    hdrs = curl_slist_append (hdrs, ct);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, hdrs);
  if (curl_easy_perform (curl) == CURLE_OK)
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all (hdrs);
  curl_easy_cleanup (curl);
  return status;
}

static void
push_blob (guint16 port, const void *data, gsize len, const char *digest)
{
  g_autofree char *url
      = g_strdup_printf ("http://127.0.0.1:%u/v2/models/tiny/blobs/uploads/", port);
  g_autofree char *location = NULL;
  g_autofree char *put = NULL;

  g_assert_cmpint (raw_request ("POST", url, "", 0, NULL, &location), ==, 202);
  g_assert_nonnull (location);
  if (g_str_has_prefix (location, "/"))
    put = g_strdup_printf ("http://127.0.0.1:%u%s%sdigest=%s", port, location,
                           strchr (location, '?') ? "&" : "?", digest);
  else
    put = g_strdup_printf ("%s%sdigest=%s", location, strchr (location, '?') ? "&" : "?", digest);
  g_assert_cmpint (raw_request ("PUT", put, data, len, "application/octet-stream", NULL), ==, 201);
}

static guint16
free_port (void)
{
  guint16 port;
  int fd = mvtest_listen_local (&port);
  close (fd);
  return port;
}

/* Servers the test starts go when it does, even when a failed assertion ends it before its
 * teardown. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts docker-registry on @name.yml (with @extra config appended) and waits for /v2/. */
static GSubprocess *
start_registry (Fixture *fx, const char *name, const char *extra, guint16 *out_port)
{
  for (int attempt = 0; attempt < 5; attempt++)
    {
      g_autoptr (GSubprocessLauncher) launcher
          = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
      g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
      g_autoptr (GSubprocess) proc = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *conf = g_strdup_printf ("%s/%s.yml", fx->dir, name);
      g_autofree char *log = g_strdup_printf ("%s/%s.log", fx->dir, name);
      guint16 port = free_port ();
      g_autofree char *yml
          = g_strdup_printf ("version: 0.1\n"
                             "log:\n  level: warn\n"
                             "storage:\n  filesystem:\n    rootdirectory: %s/data\n"
                             "  maintenance:\n    uploadpurging:\n"
                             "      enabled: false\n"
                             "http:\n  addr: 127.0.0.1:%u\n"
                             "  secret: modelvol-tests-secret\n%s",
                             fx->dir, port, extra ? extra : "");
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/v2/", port);

      g_auto (GStrv) env = g_get_environ ();

      write_file (conf, yml, 0600);
      /* docker-registry reads REGISTRY_* variables as configuration. */
      for (guint e = 0; env[e] != NULL; e++)
        if (g_str_has_prefix (env[e], "REGISTRY_"))
          {
            g_autofree char *var = g_strndup (env[e], strcspn (env[e], "="));
            g_subprocess_launcher_unsetenv (launcher, var);
          }
      g_subprocess_launcher_set_stdout_file_path (launcher, log);
      proc = g_subprocess_launcher_spawn (launcher, &error, "docker-registry", "serve", conf, NULL);
      g_assert_no_error (error);
      for (int i = 0; i < 100; i++)
        {
          long status = raw_request ("GET", url, NULL, 0, NULL, NULL);
          if (status == 200 || status == 401)
            {
              *out_port = port;
              return g_steal_pointer (&proc);
            }
          g_usleep (50 * 1000);
        }
      g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
    }
  g_error ("docker-registry did not come up (logs in %s)", fx->dir);
  return NULL;
}

static void
run (const char *const *argv, char **out_stdout)
{
  g_autoptr (GError) error = NULL;
  int status = 0;
  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                NULL, out_stdout, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
start_token_server (Fixture *fx, gboolean private)
{
  g_autofree char *key = g_build_filename (fx->dir, "token.key", NULL);
  g_autofree char *crt = g_build_filename (fx->dir, "token.crt", NULL);
  g_autofree char *script
      = g_test_build_filename (G_TEST_DIST, "..", "lib", "tokenserver.py", NULL);
  const char *gen[]
      = { "openssl", "req",  "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
          key,       "-out", crt,     "-days",   "2",        "-subj",  "/CN=modelvol token signer",
          NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL;

  run (gen, NULL);
  fx->token_log = g_build_filename (fx->dir, "token.log", NULL);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  if (private)
    fx->tokens = g_subprocess_launcher_spawn (launcher, &error, "python3", script, key, crt,
                                              "mv-issuer", "mv-registry", USERS, fx->token_log,
                                              "--private", "models/tiny", NULL);
  else
    fx->tokens
        = g_subprocess_launcher_spawn (launcher, &error, "python3", script, key, crt, "mv-issuer",
                                       "mv-registry", USERS, fx->token_log, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fx->tokens));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  fx->token_port = (guint16)g_ascii_strtoull (line, NULL, 10);
  g_assert_cmpuint (fx->token_port, >, 0);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  AuthKind kind = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autofree char *manifest_url = NULL;

  if (!have_registry ())
    return;
  fx->dir = g_dir_make_tmp ("test-registry-reg-XXXXXX", &error);
  g_assert_no_error (error);
  fx->open = start_registry (fx, "open", NULL, &fx->open_port);

  fx->config = g_strdup ("{\"descriptor\":{\"name\":\"tiny\"},\"config\":{},"
                         "\"modelfs\":{\"type\":\"layers\",\"diffIds\":[]}}");
  fx->config_digest = sha256 (fx->config, strlen (fx->config));
  fx->layer_size = LAYER_SIZE;
  fx->layer = g_malloc (LAYER_SIZE);
  for (gsize i = 0; i < LAYER_SIZE; i++)
    fx->layer[i] = (guint8)((i * 7 + i / 251) & 0xff);
  fx->layer_digest = sha256 (fx->layer, LAYER_SIZE);
  push_blob (fx->open_port, fx->config, strlen (fx->config), fx->config_digest);
  push_blob (fx->open_port, fx->layer, LAYER_SIZE, fx->layer_digest);
  fx->manifest
      = g_strdup_printf ("{\"schemaVersion\":2,\"mediaType\":\"" MV_OCI_MANIFEST "\","
                         "\"artifactType\":\"application/vnd.cncf.model.manifest.v1+json\","
                         "\"config\":{\"mediaType\":\"application/vnd.cncf.model.config.v1+json\","
                         "\"digest\":\"%s\",\"size\":%" G_GSIZE_FORMAT "},"
                         "\"layers\":[{\"mediaType\":\"application/vnd.cncf.model.weight.v1.raw\","
                         "\"digest\":\"%s\",\"size\":%d}]}",
                         fx->config_digest, strlen (fx->config), fx->layer_digest, LAYER_SIZE);
  fx->manifest_digest = sha256 (fx->manifest, strlen (fx->manifest));
  manifest_url = g_strdup_printf ("http://127.0.0.1:%u/v2/models/tiny/manifests/v1", fx->open_port);
  g_assert_cmpint (
      raw_request ("PUT", manifest_url, fx->manifest, strlen (fx->manifest), MV_OCI_MANIFEST, NULL),
      ==, 201);

  if (kind == AUTH_HTPASSWD)
    {
      g_autofree char *htpasswd = NULL;
      g_autofree char *path = g_build_filename (fx->dir, "htpasswd", NULL);
      g_autofree char *extra = NULL;
      const char *argv[] = { "htpasswd", "-Bbn", "alice", "secret", NULL };
      run (argv, &htpasswd);
      write_file (path, htpasswd, 0600);
      extra
          = g_strdup_printf ("auth:\n  htpasswd:\n    realm: modelvol-tests\n    path: %s\n", path);
      fx->auth = start_registry (fx, "htpasswd", extra, &fx->auth_port);
    }
  else if (kind == AUTH_TOKEN || kind == AUTH_TOKEN_PRIVATE)
    {
      g_autofree char *extra = NULL;
      start_token_server (fx, kind == AUTH_TOKEN_PRIVATE);
      extra = g_strdup_printf ("auth:\n  token:\n    realm: http://127.0.0.1:%u/token\n"
                               "    service: mv-registry\n    issuer: mv-issuer\n"
                               "    rootcertbundle: %s/token.crt\n",
                               fx->token_port, fx->dir);
      fx->auth = start_registry (fx, "token-registry", extra, &fx->auth_port);
    }
}

static void
stop (GSubprocess **proc)
{
  if (*proc == NULL)
    return;
  g_subprocess_force_exit (*proc);
  g_subprocess_wait (*proc, NULL, NULL);
  g_clear_object (proc);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  stop (&fx->auth);
  stop (&fx->tokens);
  stop (&fx->open);
  if (fx->dir != NULL)
    rm_rf (fx->dir);
  g_free (fx->dir);
  g_free (fx->token_log);
  g_free (fx->config);
  g_free (fx->layer);
  g_free (fx->config_digest);
  g_free (fx->layer_digest);
  g_free (fx->manifest);
  g_free (fx->manifest_digest);
}

static char *
reference_on (guint16 port, const char *tail)
{
  return g_strdup_printf ("127.0.0.1:%u/models/tiny%s", port, tail);
}

static GBytes *
read_stream (GInputStream *stream, GError **error)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  for (;;)
    {
      guint8 buf[16384];
      gssize n = g_input_stream_read (stream, buf, sizeof buf, NULL, error);
      if (n < 0)
        return NULL;
      if (n == 0)
        return g_byte_array_free_to_bytes (g_steal_pointer (&out));
      g_byte_array_append (out, buf, n);
    }
}

/* Everything the client reads of models/tiny through @source: the manifest (by tag), the
 * config, the layer as a stream, HEAD checks. */
static void
assert_pulls (Fixture *fx, MvSource *source, const char *reference)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ref_name = NULL;
  g_autoptr (MvDescriptor) root = source->klass->get_root (source, &ref_name, NULL, &error);
  g_autoptr (GBytes) manifest = NULL;
  g_autoptr (GBytes) config = NULL;
  g_autoptr (GBytes) layer = NULL;
  g_autoptr (GInputStream) stream = NULL;
  MvDescriptor layer_desc = { .digest = fx->layer_digest, .size = LAYER_SIZE };
  MvDescriptor wrong_size = { .digest = fx->layer_digest, .size = LAYER_SIZE + 1 };
  MvDescriptor absent = { .digest = (char *)"sha256:" HEX0, .size = 5 };
  gboolean confirmed = FALSE;

  g_assert_no_error (error);
  g_assert_nonnull (root);
  g_assert_cmpstr (root->digest, ==, fx->manifest_digest);
  g_assert_cmpint (root->size, ==, strlen (fx->manifest));
  g_assert_cmpstr (root->media_type, ==, MV_OCI_MANIFEST);
  g_assert_cmpstr (ref_name, ==, reference);

  manifest = mv_source_fetch_verified (source, fx->manifest_digest, strlen (fx->manifest), 1 << 20,
                                       TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (manifest, NULL), g_bytes_get_size (manifest), fx->manifest,
                   strlen (fx->manifest));
  config = mv_source_fetch_verified (source, fx->config_digest, strlen (fx->config), 1 << 20, FALSE,
                                     NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (config, NULL), g_bytes_get_size (config), fx->config,
                   strlen (fx->config));

  stream = source->klass->open_blob (source, &layer_desc, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stream);
  layer = read_stream (stream, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (layer, NULL), g_bytes_get_size (layer), fx->layer, LAYER_SIZE);

  g_assert_true (source->klass->check_blob (source, &layer_desc, &confirmed, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (confirmed);
  g_assert_true (source->klass->check_blob (source, &wrong_size, &confirmed, NULL, &error));
  g_assert_false (confirmed);
  confirmed = TRUE;
  g_assert_true (source->klass->check_blob (source, &absent, &confirmed, NULL, &error));
  g_assert_false (confirmed);
}

static void
test_registry_open (Fixture *fx, gconstpointer data)
{
  g_autofree char *reference = NULL;
  g_autofree char *by_digest = NULL;
  g_autofree char *missing = NULL;
  g_autoptr (MvSource) source = NULL;
  g_autoptr (MvSource) source_d = NULL;
  g_autoptr (MvSource) source_m = NULL;
  g_autoptr (MvDescriptor) root = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *msg = NULL;

  if (fx->dir == NULL)
    return;
  reference = reference_on (fx->open_port, ":v1");
  source = source_new (reference, NULL, &error);
  g_assert_no_error (error);
  assert_pulls (fx, source, reference);

  by_digest = g_strdup_printf ("127.0.0.1:%u/models/tiny@%s", fx->open_port, fx->manifest_digest);
  source_d = source_new (by_digest, NULL, &error);
  g_assert_no_error (error);
  root = source_d->klass->get_root (source_d, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (root->digest, ==, fx->manifest_digest);
  g_clear_pointer (&root, mv_descriptor_free);

  missing = reference_on (fx->open_port, ":nope");
  source_m = source_new (missing, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (source_m->klass->get_root (source_m, NULL, NULL, &error));
  msg = g_strdup_printf ("%s: models/tiny/manifests/nope not found on the registry", missing);
  assert_error_is (error, MV_ERROR, MV_ERROR_NOT_FOUND, msg);
}

/* Basic auth (htpasswd): the credentials as auth.json and helpers hold them. */
static void
test_registry_basic (Fixture *fx, gconstpointer data)
{
  g_autofree char *reference = NULL;
  g_autofree char *host = NULL;
  g_autofree char *good = b64 ("alice:secret");
  g_autofree char *bad = b64 ("alice:wrong");
  g_autofree char *colon = b64 ("alice:se:cret"); /* wrong, but well formed */
  struct
  {
    char *body; /* auth.json; NULL: none */
    gboolean ok;
  } cases[6];
  gsize n = 0;

  if (fx->dir == NULL)
    return;
  reference = reference_on (fx->auth_port, ":v1");
  host = g_strdup_printf ("127.0.0.1:%u", fx->auth_port);
  cases[n].body = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", host, good);
  cases[n++].ok = TRUE;
  cases[n].body = g_strdup_printf ("{\"auths\": {\"https://%s\": {\"auth\": \"%s\"}}}", host, good);
  cases[n++].ok = TRUE;
  cases[n].body = g_strdup_printf ("{\"auths\": {\"http://%s\": {\"auth\": \"%s\"}}}", host, good);
  cases[n++].ok = TRUE;
  /* A helper named for the host comes before its auths entry. */
  cases[n].body = g_strdup_printf (
      "{\"credHelpers\": {\"%s\": \"mvgood\"}, \"auths\": {\"%s\": {\"auth\": \"%s\"}}}", host,
      host, bad);
  cases[n++].ok = TRUE;
  /* The store, for a host with no auths entry. */
  cases[n].body = g_strdup ("{\"credsStore\": \"mvgood\", \"auths\": {\"x\": {}}}");
  cases[n++].ok = TRUE;
  cases[n].body = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", host, colon);
  cases[n++].ok = FALSE;

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *file = tmp_file ("basic.json", cases[i].body, 0600);
      g_autoptr (MvSource) source = NULL;

      g_test_message ("%s", cases[i].body);
      g_unlink (helper_stdin);
      source = source_new (reference, file, &error);
      g_assert_no_error (error);
      if (cases[i].ok)
        assert_pulls (fx, source, reference);
      else
        {
          g_autofree char *msg = g_strdup_printf ("%s: unauthorized (HTTP 401)", reference);
          g_assert_null (source->klass->get_root (source, NULL, NULL, &error));
          assert_error_is (error, MV_ERROR, MV_ERROR_AUTH, msg);
        }
      if (strstr (cases[i].body, "mvgood") != NULL)
        {
          g_autofree char *sent = NULL;
          g_file_get_contents (helper_stdin, &sent, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (sent, ==, host);
        }
      g_free (cases[i].body);
    }
  {
    /* No credentials. */
    g_autoptr (GError) error = NULL;
    g_autoptr (MvSource) source = source_new (reference, NULL, &error);
    g_autofree char *msg = g_strdup_printf (
        "%s: the registry wants credentials (modelvol login %s)", reference, host);
    g_assert_no_error (error);
    g_assert_null (source->klass->get_root (source, NULL, NULL, &error));
    assert_error_is (error, MV_ERROR, MV_ERROR_AUTH, msg);
  }
  {
    /* Login: accepted and refused. */
    MvRegistryOptions opts
        = { .tls_verify = FALSE, .authfile = no_authfile, .certs_dir = empty_certs };
    g_autoptr (GError) error = NULL;
    g_assert_true (mv_registry_login (host, "alice", "secret", &opts, NULL, &error));
    g_assert_no_error (error);
    g_assert_false (mv_registry_login (host, "alice", "nope", &opts, NULL, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_AUTH);
  }
}

static char *
read_log (const char *path)
{
  g_autofree char *s = NULL;
  g_autoptr (GError) error = NULL;
  g_file_get_contents (path, &s, NULL, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&s);
}

static guint
count_lines (const char *s)
{
  guint n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* Token auth: 401, a token from the realm, the request again; the token reused. */
static void
test_registry_token (Fixture *fx, gconstpointer data)
{
  g_autofree char *reference = NULL;
  g_autofree char *host = NULL;
  g_autofree char *good = b64 ("alice:secret");
  g_autofree char *bad = b64 ("alice:wrong");
  g_autofree char *body = NULL;
  g_autofree char *authfile = NULL;
  g_autofree char *log = NULL;
  g_autoptr (GError) error = NULL;

  if (fx->dir == NULL)
    return;
  reference = reference_on (fx->auth_port, ":v1");
  host = g_strdup_printf ("127.0.0.1:%u", fx->auth_port);
  {
    /* Anonymous: one token for the whole pull. */
    g_autoptr (MvSource) source = source_new (reference, NULL, &error);
    g_assert_no_error (error);
    assert_pulls (fx, source, reference);
    log = read_log (fx->token_log);
    g_assert_cmpstr (log, ==,
                     "AUTH=- scope=repository%3Amodels%2Ftiny%3Apull&service=mv-registry "
                     "granted=models/tiny:pull\n");
    g_clear_pointer (&log, g_free);
  }
  {
    /* With credentials: Basic to the token server. */
    g_autoptr (MvSource) source = NULL;
    body = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", host, good);
    authfile = tmp_file ("token.json", body, 0600);
    source = source_new (reference, authfile, &error);
    g_assert_no_error (error);
    assert_pulls (fx, source, reference);
    log = read_log (fx->token_log);
    g_assert_true (g_str_has_suffix (
        log, "\nAUTH=alice scope=repository%3Amodels%2Ftiny%3Apull&service=mv-registry "
             "granted=models/tiny:pull\n"));
    g_assert_cmpuint (count_lines (log), ==, 2);
    g_clear_pointer (&log, g_free);
    g_clear_pointer (&body, g_free);
    g_clear_pointer (&authfile, g_free);
  }
  {
    /* Wrong credentials: the token server says no. */
    g_autoptr (MvSource) source = NULL;
    g_autofree char *msg = g_strdup_printf ("%s: the token server answered 401", reference);
    body = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", host, bad);
    authfile = tmp_file ("token-bad.json", body, 0600);
    source = source_new (reference, authfile, &error);
    g_assert_no_error (error);
    g_assert_null (source->klass->get_root (source, NULL, NULL, &error));
    assert_error_is (error, MV_ERROR, MV_ERROR_AUTH, msg);
  }
}

/* A private repository: an anonymous token grants nothing, and the registry's second 401 is
 * final. */
static void
test_registry_token_private (Fixture *fx, gconstpointer data)
{
  g_autofree char *reference = NULL;
  g_autofree char *host = NULL;
  g_autofree char *good = b64 ("alice:secret");
  g_autofree char *body = NULL;
  g_autofree char *authfile = NULL;
  g_autofree char *msg = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSource) anon = NULL;
  g_autoptr (MvSource) alice = NULL;

  if (fx->dir == NULL)
    return;
  reference = reference_on (fx->auth_port, ":v1");
  host = g_strdup_printf ("127.0.0.1:%u", fx->auth_port);
  anon = source_new (reference, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (anon->klass->get_root (anon, NULL, NULL, &error));
  msg = g_strdup_printf ("%s: models/tiny/manifests/v1: unauthorized (HTTP 401) with a new token",
                         reference);
  assert_error_is (error, MV_ERROR, MV_ERROR_AUTH, msg);
  g_clear_error (&error);

  body = g_strdup_printf ("{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}", host, good);
  authfile = tmp_file ("private.json", body, 0600);
  alice = source_new (reference, authfile, &error);
  g_assert_no_error (error);
  assert_pulls (fx, alice, reference);
}

/* A proxy in front of the registry that breaks the first blob transfer after CUT bytes: the
 * stream resumes with Range from the registry itself. */
#define CUT 200000

typedef struct
{
  guint16 upstream;
  gint blob_gets;
} Proxy;

static void
handle_proxy (Server *s, guint index, const char *request, int fd)
{
  Proxy *p = (gpointer)s->data;
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
                           .sin_port = htons (p->upstream) };
  int up;
  const char *end = strstr (request, "\r\n\r\n");
  g_autoptr (GString) req = NULL;
  gsize limit = G_MAXSIZE, sent = 0;

  if (end == NULL)
    return; /* not HTTP (TLS): closed */
  if (g_str_has_prefix (request, "GET ") && strstr (request, "/blobs/") != NULL
      && g_atomic_int_add (&p->blob_gets, 1) == 0)
    limit = CUT;
  /* One request per connection. */
  req = g_string_new_len (request, end - request);
  g_string_append (req, "\r\nConnection: close\r\n\r\n");
  up = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect (up, (struct sockaddr *)&a, sizeof a) < 0
      || !mvtest_send_all (up, req->str, req->len))
    {
      close (up);
      return;
    }
  while (sent < limit)
    {
      char buf[16384];
      ssize_t n = recv (up, buf, MIN (sizeof buf, limit - sent), 0);
      if (n <= 0 || !mvtest_send_all (fd, buf, n))
        break;
      sent += n;
    }
  close (up);
}

static void
test_registry_resume (Fixture *fx, gconstpointer data)
{
  Proxy proxy = { 0 };
  g_autoptr (MvTestServer) s = NULL;
  g_autofree char *reference = NULL;
  g_autoptr (MvSource) source = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GBytes) layer = NULL;
  g_autoptr (GPtrArray) gets = NULL;
  g_autofree char *blob_get = NULL;
  g_autofree char *range = NULL;
  MvDescriptor desc = { 0 };

  if (fx->dir == NULL)
    return;
  proxy.upstream = fx->open_port;
  s = mvtest_server_new (handle_proxy, &proxy);
  reference = reference_on (s->port, ":v1");
  source = source_new (reference, NULL, &error);
  g_assert_no_error (error);
  desc.digest = fx->layer_digest;
  desc.size = LAYER_SIZE;
  stream = source->klass->open_blob (source, &desc, NULL, &error);
  g_assert_no_error (error);
  layer = read_stream (stream, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (layer, NULL), g_bytes_get_size (layer), fx->layer, LAYER_SIZE);
  blob_get = g_strdup_printf ("GET /v2/models/tiny/blobs/%s ", fx->layer_digest);
  gets = server_requests (s, blob_get);
  g_assert_cmpuint (gets->len, ==, 2);
  g_assert_null (strstr (gets->pdata[0], "Range:"));
  range = request_header (gets->pdata[1], "Range");
  g_assert_nonnull (range);
  g_assert_true (g_str_has_prefix (range, "bytes="));
  g_assert_true (g_str_has_suffix (range, "-"));
  /* Resumed where the first transfer broke: CUT bytes less the response head. */
  g_assert_cmpuint (g_ascii_strtoull (range + 6, NULL, 10), >, CUT - 2000);
  g_assert_cmpuint (g_ascii_strtoull (range + 6, NULL, 10), <, CUT);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  setup_globals ();
  g_test_add_func ("/registry/challenge-param", test_challenge_param);
  g_test_add_func ("/registry/token-url", test_token_url);
  g_test_add_func ("/registry/credentials/refused", test_credentials_refused);
  g_test_add_func ("/registry/credentials/none", test_credentials_none);
  g_test_add_func ("/registry/scripted/manifest-digest", test_fake_manifest_digest);
  g_test_add_func ("/registry/scripted/blob-verified", test_fake_blob_verified);
  g_test_add_func ("/registry/scripted/statuses", test_fake_statuses);
  g_test_add_func ("/registry/scripted/retry-after", test_fake_retry_after);
  g_test_add_func ("/registry/scripted/redirects", test_fake_redirects);
  g_test_add_func ("/registry/scripted/token-server", test_fake_token_server);
  g_test_add ("/registry/docker-registry/open", Fixture, GINT_TO_POINTER (AUTH_NONE), fixture_setup,
              test_registry_open, fixture_teardown);
  g_test_add ("/registry/docker-registry/basic", Fixture, GINT_TO_POINTER (AUTH_HTPASSWD),
              fixture_setup, test_registry_basic, fixture_teardown);
  g_test_add ("/registry/docker-registry/token", Fixture, GINT_TO_POINTER (AUTH_TOKEN),
              fixture_setup, test_registry_token, fixture_teardown);
  g_test_add ("/registry/docker-registry/token-private", Fixture,
              GINT_TO_POINTER (AUTH_TOKEN_PRIVATE), fixture_setup, test_registry_token_private,
              fixture_teardown);
  g_test_add ("/registry/docker-registry/resume", Fixture, GINT_TO_POINTER (AUTH_NONE),
              fixture_setup, test_registry_resume, fixture_teardown);
  rc = g_test_run ();
  rm_rf (test_tmp);
  g_free (test_tmp);
  g_free (no_authfile);
  g_free (empty_certs);
  g_free (helper_stdin);
  return rc;
}
