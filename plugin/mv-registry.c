/* mv-registry: an OCI registry as a model source (distribution API, pull only).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-digest-private.h"
#include "mv-error-private.h"
#include "mv-limits-private.h"
#include "mv-fdio-private.h"
#include "mv-http-private.h"
#include "mv-manifest-private.h"
#include "mv-path-private.h"
#include "mv-reference-private.h"
#include "mv-source-private.h"

#define TOKEN_MAX (mv_limits ()->token_bytes)
#define AUTH_FILE_MAX (1024 * 1024)
#define MAX_REDIRECTS 5
#define DEFAULT_CERTS_DIR "/etc/containers/certs.d"
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static const char *const manifest_accept = "Accept: " MV_OCI_MANIFEST ", " MV_OCI_INDEX
                                           ", " MV_DOCKER_MANIFEST ", " MV_DOCKER_MANIFEST_LIST;

typedef struct
{
  MvSource parent;
  MvReference *ref;
  char *reference;   /* normalized, for messages and the default name */
  char *description; /* "docker://..." */
  char *host;        /* where requests go: docker.io means registry-1.docker.io */
  char *scheme;      /* "https", or "http" for an insecure registry that speaks no TLS */
  gboolean insecure;
  MvHttpOptions http;
  char *basic;           /* "user:pass" from auth.json, or NULL */
  char *authorization;   /* the current "Authorization: ..." header, or NULL */
  GMutex mutex;          /* authorization and the manifest cache, shared by layer threads */
  GHashTable *manifests; /* digest -> GBytes already fetched */
} MvRegistrySource;

static void
registry_free (MvSource *source)
{
  MvRegistrySource *self = (MvRegistrySource *)source;
  mv_reference_free (self->ref);
  g_free (self->reference);
  g_free (self->description);
  g_free (self->host);
  g_free (self->scheme);
  mv_http_options_clear (&self->http);
  if (self->basic)
    memset (self->basic, 0, strlen (self->basic));
  g_free (self->basic);
  g_free (self->authorization);
  g_mutex_clear (&self->mutex);
  g_hash_table_unref (self->manifests);
  g_free (self);
}

static const char *
registry_describe (MvSource *source)
{
  return ((MvRegistrySource *)source)->description;
}

/* ---------------------------------------------------------------------------------------- */
/* Credentials and certificates                                                             */

/* A member that is an object, or NULL (absent or of another type), without json-glib's
 * criticals. */
static JsonObject *
object_member (JsonObject *obj, const char *name)
{
  JsonNode *n = json_object_get_member (obj, name);
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* A member that is a string, or NULL. */
static const char *
string_member (JsonObject *obj, const char *name)
{
  JsonNode *n = obj ? json_object_get_member (obj, name) : NULL;
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
             ? json_node_get_string (n)
             : NULL;
}

/* A credentials file others can write could hand us their credentials, or a credential
 * helper of theirs to run as root: refused. One others can read has leaked already, but
 * tools write 0644 under common umasks: said at -v. Links and FIFOs never get here
 * (opened O_NOFOLLOW|O_NONBLOCK, regular files only). */
static gboolean
check_credentials_mode (const char *path, GError **error)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    return mv_throw_errno_prefix (error, "credentials: '%s'", path);
  if (st.st_mode & 0022)
    return mv_throw (error, MV_ERROR_AUTH,
                     "credentials file '%s' is writable by others (mode %04o): make it 0600", path,
                     st.st_mode & 07777);
  if (st.st_mode & 0004)
    g_debug ("credentials file %s is readable by others (mode %04o)", path, st.st_mode & 07777);
  return TRUE;
}

/* The docker-credential-* protocol: "get" with the registry on stdin, JSON on stdout. */
static char *
creds_from_helper (const char *helper, const char *host, GError **error)
{
  g_autofree char *prog = g_strconcat ("docker-credential-", helper, NULL);
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GBytes) in = g_bytes_new (host, strlen (host));
  g_autoptr (GBytes) out = NULL;
  g_autoptr (JsonNode) root = NULL;
  const char *user, *secret;

  if (*helper == '\0'
      || strspn (helper, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789-_.")
             != strlen (helper))
    {
      g_autofree char *shown = mv_escape_for_display (helper, 100);
      mv_throw (error, MV_ERROR_AUTH, "credential helper name '%s' is not valid", shown);
      return NULL;
    }
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                               | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                           error, prog, "get", NULL);
  if (proc == NULL)
    return NULL;
  {
    g_autoptr (GError) local_error = NULL;
    if (!g_subprocess_communicate (proc, in, NULL, &out, NULL, &local_error)
        && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
      {
        mv_throw (error, MV_ERROR_AUTH, "credential helper %s failed for %s: %s", prog, host,
                  local_error->message);
        return NULL;
      }
    if (out == NULL)
      {
        /* It exited without reading the request (a broken pipe): wait for its status. */
        (void)g_subprocess_wait (proc, NULL, NULL);
      }
  }
  if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    {
      /* The protocol's "no credentials for this server" is not an error: go anonymous. */
      if (out != NULL
          && g_strstr_len (g_bytes_get_data (out, NULL), g_bytes_get_size (out),
                           "credentials not found")
                 != NULL)
        return NULL;
      mv_throw (error, MV_ERROR_AUTH, "credential helper %s failed for %s", prog, host);
      return NULL;
    }
  root = mv_json_parse_object (g_bytes_get_data (out, NULL), g_bytes_get_size (out), TOKEN_MAX,
                               prog, error);
  if (root == NULL)
    return NULL;
  user = string_member (json_node_get_object (root), "Username");
  secret = string_member (json_node_get_object (root), "Secret");
  if (user == NULL || secret == NULL || *user == '\0' || g_str_equal (user, "<token>"))
    {
      mv_throw (error, MV_ERROR_AUTH, "credential helper %s gave no usable user name for %s", prog,
                host);
      return NULL;
    }
  return g_strconcat (user, ":", secret, NULL);
}

static char *
auth_from_file (const char *path, const char *host, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) local_error = NULL;
  JsonObject *auths, *entry = NULL;
  const char *keys[3];
  g_autofree char *https = g_strconcat ("https://", host, NULL);
  g_autofree char *http = g_strconcat ("http://", host, NULL);

  bytes = mv_file_get_contents_at (AT_FDCWD, path, FALSE, AUTH_FILE_MAX, &local_error);
  if (bytes == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return NULL;
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "credentials: ");
      return NULL;
    }
  if (!check_credentials_mode (path, error))
    return NULL;
  root = mv_json_parse_object (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                               AUTH_FILE_MAX, path, error);
  if (root == NULL)
    return NULL;
  {
    /* credHelpers for this registry first, then an auths entry, then credsStore. */
    const char *helper
        = string_member (object_member (json_node_get_object (root), "credHelpers"), host);
    if (helper != NULL)
      return creds_from_helper (helper, host, error);
  }
  auths = object_member (json_node_get_object (root), "auths");
  if (auths == NULL || !json_object_has_member (auths, host))
    {
      const char *store = string_member (json_node_get_object (root), "credsStore");
      if (store != NULL)
        return creds_from_helper (store, host, error);
      if (auths == NULL)
        return NULL;
    }
  keys[0] = host;
  keys[1] = https;
  keys[2] = http;
  for (int i = 0; i < 3 && entry == NULL; i++)
    {
      JsonNode *n = json_object_get_member (auths, keys[i]);
      if (n != NULL && JSON_NODE_HOLDS_OBJECT (n))
        entry = json_node_get_object (n);
    }
  if (entry == NULL)
    return NULL;
  {
    const char *b64 = json_object_get_string_member_with_default (entry, "auth", NULL);
    gsize len = 0;
    g_autofree guchar *raw = NULL;
    if (b64 == NULL)
      return NULL;
    raw = g_base64_decode (b64, &len);
    if (raw == NULL || memchr (raw, ':', len) == NULL)
      {
        mv_throw (error, MV_ERROR_AUTH, "%s: the credentials for %s are malformed", path, host);
        return NULL;
      }
    return g_strndup ((const char *)raw, len);
  }
}

/* containers-auth.json(5): REGISTRY_AUTH_FILE, /run/containers/<uid>/auth.json,
 * $XDG_CONFIG_HOME/containers/auth.json, ~/.docker/config.json; the first file that has an
 * entry for the host wins. */
static char *
find_credentials (const char *authfile, const char *host, GError **error)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

  if (authfile != NULL)
    g_ptr_array_add (files, g_strdup (authfile));
  else
    {
      const char *env = g_getenv ("REGISTRY_AUTH_FILE");
      if (env != NULL && *env)
        g_ptr_array_add (files, g_strdup (env));
      g_ptr_array_add (files, g_strdup_printf ("/run/containers/%u/auth.json", (guint)getuid ()));
      g_ptr_array_add (
          files, g_build_filename (g_get_user_config_dir (), "containers", "auth.json", NULL));
      g_ptr_array_add (files, g_build_filename (g_get_home_dir (), ".docker", "config.json", NULL));
    }
  for (guint i = 0; i < files->len; i++)
    {
      g_autoptr (GError) local_error = NULL;
      char *cred = auth_from_file (files->pdata[i], host, &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (cred != NULL)
        return cred;
    }
  return NULL;
}

/* certs.d/HOST[:PORT]/: *.crt are CAs (added to the system's), *.cert + *.key a client pair. */
static gboolean
load_certs (MvRegistrySource *self, const char *certs_dir, GError **error)
{
  g_autofree char *dir
      = g_build_filename (certs_dir ? certs_dir : DEFAULT_CERTS_DIR, self->ref->domain, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GString) pem = NULL;
  const char *name;

  if (d == NULL)
    return TRUE;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_str_has_suffix (name, ".crt"))
        {
          g_autoptr (GBytes) b
              = mv_file_get_contents_at (AT_FDCWD, path, FALSE, AUTH_FILE_MAX, error);
          if (b == NULL)
            return FALSE;
          if (pem == NULL)
            {
              g_autoptr (GBytes) sys = mv_file_get_contents_at (AT_FDCWD, SYSTEM_CA_BUNDLE, TRUE,
                                                                16 * 1024 * 1024, NULL);
              pem = g_string_new (NULL);
              if (sys != NULL)
                g_string_append_len (pem, g_bytes_get_data (sys, NULL), g_bytes_get_size (sys));
            }
          g_string_append_c (pem, '\n');
          g_string_append_len (pem, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
        }
      else if (g_str_has_suffix (name, ".cert"))
        {
          g_free (self->http.client_cert);
          self->http.client_cert = g_steal_pointer (&path);
        }
      else if (g_str_has_suffix (name, ".key"))
        {
          g_free (self->http.client_key);
          self->http.client_key = g_steal_pointer (&path);
        }
    }
  if (pem != NULL)
    self->http.ca_pem = g_string_free_to_bytes (g_steal_pointer (&pem));
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* Requests with auth                                                                       */

/* Splits a WWW-Authenticate challenge: scheme, then key="value" pairs. */
static char *
challenge_param (const char *challenge, const char *key)
{
  g_autofree char *pat = g_strconcat (key, "=\"", NULL);
  const char *p = challenge;

  while ((p = strstr (p, pat)) != NULL)
    {
      if (p == challenge || p[-1] == ' ' || p[-1] == ',')
        {
          const char *v = p + strlen (pat);
          const char *end = strchr (v, '"');
          if (end == NULL)
            return NULL;
          return g_strndup (v, end - v);
        }
      p++;
    }
  return NULL;
}

/* Does "host[:port]" name the host @name (IPv6 in brackets or not)? */
static gboolean
same_host_name (const char *hostport, const char *name)
{
  g_autofree char *url = g_strconcat ("http://", hostport, "/", NULL);
  g_autoptr (GUri) u = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  return u != NULL && name != NULL && g_ascii_strcasecmp (g_uri_get_host (u), name) == 0;
}

static gboolean
authenticate (MvRegistrySource *self, const char *challenge, GCancellable *cancellable,
              GError **error)
{
  g_autofree char *auth = NULL;

  if (g_ascii_strncasecmp (challenge, "Basic", 5) == 0)
    {
      if (self->basic == NULL)
        return mv_throw (error, MV_ERROR_AUTH,
                         "%s: the registry wants credentials (modelvol "
                         "login %s)",
                         self->reference, self->ref->domain);
      g_autofree char *b64 = g_base64_encode ((const guchar *)self->basic, strlen (self->basic));
      auth = g_strconcat ("Authorization: Basic ", b64, NULL);
    }
  else if (g_ascii_strncasecmp (challenge, "Bearer", 6) == 0)
    {
      g_autofree char *realm = challenge_param (challenge, "realm");
      g_autofree char *service = challenge_param (challenge, "service");
      g_autofree char *scope = challenge_param (challenge, "scope");
      g_autofree char *url = NULL;
      g_autofree char *basic_hdr = NULL;
      g_autoptr (MvHttpResponse) resp = NULL;
      g_autoptr (JsonNode) root = NULL;
      const char *token;
      const char *hdrs[2] = { NULL, NULL };
      g_autoptr (GUri) realm_uri = NULL;

      if (realm == NULL)
        return mv_throw (error, MV_ERROR_AUTH, "%s: token challenge without a realm",
                         self->reference);
      realm_uri = g_uri_parse (realm, G_URI_FLAGS_NONE, NULL);
      /* Tokens only over https, except from an insecure registry's own host. */
      if (realm_uri == NULL
          || (g_strcmp0 (g_uri_get_scheme (realm_uri), "https") != 0
              && !(self->insecure && g_strcmp0 (g_uri_get_scheme (realm_uri), "http") == 0
                   && same_host_name (self->host, g_uri_get_host (realm_uri)))))
        {
          g_autofree char *shown = mv_escape_for_display (realm, 200);
          return mv_throw (error, MV_ERROR_AUTH, "%s: refusing token realm '%s' (not https)",
                           self->reference, shown);
        }
      {
        g_autofree char *esc_service = service ? g_uri_escape_string (service, NULL, FALSE) : NULL;
        /* A login (no repository) asks for a token without a scope, as podman does. */
        g_autofree char *scope_str
            = scope ? g_strdup (scope)
                    : (*self->ref->path ? g_strdup_printf ("repository:%s:pull", self->ref->path)
                                        : NULL);
        g_autofree char *esc_scope
            = scope_str ? g_uri_escape_string (scope_str, NULL, FALSE) : NULL;
        GString *u = g_string_new (realm);
        char sep = strchr (realm, '?') ? '&' : '?';
        if (esc_scope)
          {
            g_string_append_printf (u, "%cscope=%s", sep, esc_scope);
            sep = '&';
          }
        if (esc_service)
          g_string_append_printf (u, "%cservice=%s", sep, esc_service);
        url = g_string_free (u, FALSE);
      }
      if (self->basic != NULL)
        {
          g_autofree char *b64
              = g_base64_encode ((const guchar *)self->basic, strlen (self->basic));
          basic_hdr = g_strconcat ("Authorization: Basic ", b64, NULL);
          hdrs[0] = basic_hdr;
        }
      resp = mv_http_get (&self->http, url, hdrs, TOKEN_MAX, cancellable, error);
      if (resp == NULL)
        return mv_prefix_error (error, "%s: getting a token", self->reference);
      if (resp->status != 200)
        return mv_throw (error, MV_ERROR_AUTH, "%s: the token server answered %ld", self->reference,
                         resp->status);
      root = mv_json_parse_object (g_bytes_get_data (resp->body, NULL),
                                   g_bytes_get_size (resp->body), TOKEN_MAX, "token", error);
      if (root == NULL)
        return FALSE;
      token
          = json_object_get_string_member_with_default (json_node_get_object (root), "token", NULL);
      if (token == NULL)
        token = json_object_get_string_member_with_default (json_node_get_object (root),
                                                            "access_token", NULL);
      if (token == NULL || *token == '\0' || strpbrk (token, "\r\n") != NULL)
        return mv_throw (error, MV_ERROR_AUTH, "%s: the token server sent no usable token",
                         self->reference);
      auth = g_strconcat ("Authorization: Bearer ", token, NULL);
    }
  else
    return mv_throw (error, MV_ERROR_AUTH, "%s: unsupported authentication scheme",
                     self->reference);

  g_mutex_lock (&self->mutex);
  g_free (self->authorization);
  self->authorization = g_steal_pointer (&auth);
  g_mutex_unlock (&self->mutex);
  return TRUE;
}

static const char *
http_reason (long status)
{
  switch (status)
    {
      case 401:
        return "unauthorized";
      case 403:
        return "forbidden";
      case 404:
        return "not found";
      case 429:
        return "too many requests";
      default:
        return status >= 500 ? "server error" : "unexpected status";
    }
}

/* GET @path on the registry, small body or stream, handling 401 (once) and redirects. */
static MvHttpResponse *
request_once (MvRegistrySource *self, const char *path, const char *accept, gsize max_body,
              GInputStream **out_stream, MvHttpResponse **out_last, GCancellable *cancellable,
              GError **error)
{
  g_autofree char *url = g_strdup_printf ("%s://%s/v2/%s", self->scheme, self->host, path);
  gboolean retried_auth = FALSE;
  gboolean same_host = TRUE;

  for (int hop = 0; hop <= MAX_REDIRECTS; hop++)
    {
      g_autoptr (MvHttpResponse) resp = NULL;
      g_autofree char *authz = NULL;
      const char *hdrs[3] = { NULL, NULL, NULL };
      int n = 0;

      g_mutex_lock (&self->mutex);
      /* Credentials go to the registry host only, never to a redirect target. */
      if (same_host && self->authorization != NULL)
        authz = g_strdup (self->authorization);
      g_mutex_unlock (&self->mutex);
      if (accept)
        hdrs[n++] = accept;
      if (authz)
        hdrs[n++] = authz;

      if (out_stream != NULL)
        {
          *out_stream = mv_http_get_stream (&self->http, url, hdrs, &resp, cancellable, error);
          if (*out_stream == NULL && resp == NULL)
            return NULL;
        }
      else
        {
          resp = mv_http_get (&self->http, url, hdrs, max_body, cancellable, error);
          if (resp == NULL)
            return NULL;
        }
      if (resp->status == 401 && same_host && !retried_auth)
        {
          const char *challenge = g_hash_table_lookup (resp->headers, "www-authenticate");
          retried_auth = TRUE;
          if (challenge == NULL)
            {
              mv_throw (error, MV_ERROR_AUTH, "%s: unauthorized", self->reference);
              return NULL;
            }
          if (!authenticate (self, challenge, cancellable, error))
            return NULL;
          hop--;
          continue;
        }
      if (resp->status >= 300 && resp->status < 400
          && g_hash_table_contains (resp->headers, "location"))
        {
          g_autoptr (GUri) base = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
          g_autoptr (GUri) next = g_uri_parse_relative (
              base, g_hash_table_lookup (resp->headers, "location"), G_URI_FLAGS_NONE, NULL);
          const char *scheme = next ? g_uri_get_scheme (next) : NULL;
          if (next == NULL
              || (g_strcmp0 (scheme, "https") != 0
                  && !(g_strcmp0 (scheme, "http") == 0 && g_strcmp0 (self->scheme, "http") == 0
                       && g_strcmp0 (g_uri_get_host (next), g_uri_get_host (base)) == 0)))
            {
              mv_throw (error, MV_ERROR_AUTH, "%s: refusing redirect to a non-https location",
                        self->reference);
              return NULL;
            }
          if (g_strcmp0 (g_uri_get_host (next), g_uri_get_host (base)) != 0
              || g_uri_get_port (next) != g_uri_get_port (base))
            same_host = FALSE;
          g_free (url);
          url = g_uri_to_string (next);
          if (out_stream != NULL)
            g_clear_object (out_stream);
          continue;
        }
      if (resp->status != 200)
        {
          if (out_stream != NULL)
            g_clear_object (out_stream);
          if (resp->status == 401 || resp->status == 403)
            mv_throw (error, MV_ERROR_AUTH, "%s: %s (HTTP %ld)", self->reference,
                      http_reason (resp->status), resp->status);
          else if (resp->status == 404)
            mv_throw (error, MV_ERROR_NOT_FOUND, "%s: %s not found on the registry",
                      self->reference, path);
          else
            mv_throw (error, MV_ERROR_FAILED, "%s: %s: %s (HTTP %ld)", self->reference, path,
                      http_reason (resp->status), resp->status);
          *out_last = g_steal_pointer (&resp);
          return NULL;
        }
      return g_steal_pointer (&resp);
    }
  mv_throw (error, MV_ERROR_FAILED, "%s: more than %d redirects", self->reference, MAX_REDIRECTS);
  return NULL;
}

/* ---------------------------------------------------------------------------------------- */

#define MAX_ATTEMPTS 5
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 5000
#define RETRY_AFTER_MAX_S 30

/* Retry-After: a number of seconds (capped), else nothing we trust (an HTTP date or garbage
 * falls back to our own backoff). */
static guint
retry_after_ms (MvHttpResponse *resp)
{
  const char *v = resp ? g_hash_table_lookup (resp->headers, "retry-after") : NULL;
  guint64 secs;

  if (v == NULL || !g_ascii_string_to_unsigned (v, 10, 0, G_MAXUINT32, &secs, NULL))
    return 0;
  return (guint)MIN (secs, RETRY_AFTER_MAX_S) * 1000;
}

static gboolean
sleep_cancellable (guint ms, GCancellable *cancellable, GError **error)
{
  for (guint slept = 0; slept < ms; slept += 50)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_usleep (50 * 1000);
    }
  return TRUE;
}

/* request_once() with bounded retries and capped exponential backoff for what is worth
 * another try: 429 (honouring a numeric Retry-After), 5xx, and transport failures. */
static MvHttpResponse *
request (MvRegistrySource *self, const char *path, const char *accept, gsize max_body,
         GInputStream **out_stream, GCancellable *cancellable, GError **error)
{
  guint backoff = BACKOFF_FIRST_MS;

  for (int attempt = 1;; attempt++)
    {
      g_autoptr (GError) local_error = NULL;
      g_autoptr (MvHttpResponse) last = NULL;
      MvHttpResponse *resp = request_once (self, path, accept, max_body, out_stream, &last,
                                           cancellable, &local_error);
      guint wait_ms;

      if (resp != NULL)
        return resp;
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || attempt == MAX_ATTEMPTS
          || !(g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
               || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
               || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
               || (last != NULL && (last->status == 429 || last->status >= 500))))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      wait_ms = retry_after_ms (last);
      if (wait_ms == 0)
        wait_ms = backoff;
      backoff = MIN (backoff * 2, BACKOFF_MAX_MS);
      g_debug ("%s; retrying in %u ms (attempt %d of %d)", local_error->message, wait_ms,
               attempt + 1, MAX_ATTEMPTS);
      if (!sleep_cancellable (wait_ms, cancellable, error))
        return NULL;
    }
}

static GBytes *
cached_manifest (MvRegistrySource *self, const char *digest)
{
  GBytes *b;
  g_mutex_lock (&self->mutex);
  b = g_hash_table_lookup (self->manifests, digest);
  if (b)
    g_bytes_ref (b);
  g_mutex_unlock (&self->mutex);
  return b;
}

static MvDescriptor *
registry_get_root (MvSource *source, char **out_ref_name, GCancellable *cancellable, GError **error)
{
  MvRegistrySource *self = (MvRegistrySource *)source;
  const char *ref = self->ref->digest ? self->ref->digest : self->ref->tag;
  g_autofree char *path = g_strdup_printf ("%s/manifests/%s", self->ref->path, ref);
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autofree char *digest = NULL;
  g_autoptr (MvDescriptor) desc = g_new0 (MvDescriptor, 1);
  const char *header_digest;
  const char *ctype;

  resp = request (self, path, manifest_accept, MV_MANIFEST_MAX_SIZE, NULL, cancellable, error);
  if (resp == NULL)
    return NULL;
  digest = mv_digest_bytes (g_bytes_get_data (resp->body, NULL), g_bytes_get_size (resp->body));
  /* By digest, the body must hash to it; by tag, the registry's digest header must agree. */
  if (self->ref->digest != NULL && !g_str_equal (self->ref->digest, digest))
    {
      mv_throw (error, MV_ERROR_DIGEST_MISMATCH, "%s: the manifest hashes to %s", self->reference,
                digest);
      return NULL;
    }
  header_digest = g_hash_table_lookup (resp->headers, "docker-content-digest");
  if (header_digest != NULL && g_str_has_prefix (header_digest, "sha256:")
      && !g_str_equal (header_digest, digest))
    {
      g_autofree char *shown = mv_escape_for_display (header_digest, 100);
      mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                "%s: Docker-Content-Digest %s disagrees with the manifest (%s)", self->reference,
                shown, digest);
      return NULL;
    }
  ctype = g_hash_table_lookup (resp->headers, "content-type");
  desc->media_type = g_strdup (ctype ? ctype : MV_OCI_MANIFEST);
  desc->digest = g_strdup (digest);
  desc->size = g_bytes_get_size (resp->body);
  g_mutex_lock (&self->mutex);
  g_hash_table_insert (self->manifests, g_strdup (digest), g_bytes_ref (resp->body));
  g_mutex_unlock (&self->mutex);
  if (out_ref_name)
    *out_ref_name = g_strdup (self->reference);
  return g_steal_pointer (&desc);
}

static GBytes *
registry_fetch_bytes (MvSource *source, const char *digest, gint64 size, gsize max_size,
                      gboolean manifest, GCancellable *cancellable, GError **error)
{
  MvRegistrySource *self = (MvRegistrySource *)source;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autofree char *path = NULL;

  if (!mv_digest_validate (digest, NULL, NULL, error))
    return NULL;
  bytes = manifest ? cached_manifest (self, digest) : NULL;
  if (bytes == NULL)
    {
      path
          = g_strdup_printf ("%s/%s/%s", self->ref->path, manifest ? "manifests" : "blobs", digest);
      resp = request (self, path, manifest ? manifest_accept : NULL, max_size, NULL, cancellable,
                      error);
      if (resp == NULL)
        return NULL;
      bytes = g_bytes_ref (resp->body);
    }
  return g_steal_pointer (&bytes);
}

static GInputStream *
registry_open_blob (MvSource *source, const MvDescriptor *desc, GCancellable *cancellable,
                    GError **error)
{
  MvRegistrySource *self = (MvRegistrySource *)source;
  g_autofree char *path = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  GInputStream *stream = NULL;

  if (!mv_digest_validate (desc->digest, NULL, NULL, error))
    return NULL;
  /* Foreign-layer "urls" are never used: blobs come from the registry only. */
  path = g_strdup_printf ("%s/blobs/%s", self->ref->path, desc->digest);
  resp = request (self, path, NULL, 0, &stream, cancellable, error);
  if (resp == NULL)
    return NULL;
  return stream;
}

static const MvSourceClass registry_class = {
  .get_root = registry_get_root,
  .fetch_bytes = registry_fetch_bytes,
  .open_blob = registry_open_blob,
  .describe = registry_describe,
  .free = registry_free,
};

/* An insecure registry may speak plain HTTP: try https (unchecked) first, as container
 * tools do, and fall back to http only if TLS itself fails. */
static gboolean
pick_scheme (MvRegistrySource *self, GCancellable *cancellable, GError **error)
{
  g_autofree char *url = g_strdup_printf ("https://%s/v2/", self->host);
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autoptr (GError) local_error = NULL;

  self->scheme = g_strdup ("https");
  if (!self->insecure)
    return TRUE;
  resp = mv_http_get (&self->http, url, NULL, 64 * 1024, cancellable, &local_error);
  if (resp != NULL)
    return TRUE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_debug ("%s: https failed (%s); insecure registry: using http", self->host,
           local_error->message);
  g_free (self->scheme);
  self->scheme = g_strdup ("http");
  return TRUE;
}

static MvRegistrySource *
registry_new (const MvRegistryOptions *opts, GError **error)
{
  MvRegistrySource *self = g_new0 (MvRegistrySource, 1);

  self->parent.klass = &registry_class;
  g_mutex_init (&self->mutex);
  self->manifests
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
  self->insecure = !opts->tls_verify;
  self->http.tls_verify = opts->tls_verify;
  return self;
}

static gboolean
registry_connect (MvRegistrySource *self, const MvRegistryOptions *opts, GError **error)
{
  self->host = g_strdup (g_str_equal (self->ref->domain, "docker.io") ? "registry-1.docker.io"
                                                                      : self->ref->domain);
  if (!load_certs (self, opts->certs_dir, error))
    return FALSE;
  return pick_scheme (self, NULL, error);
}

MvSource *
mv_registry_source_new (const char *reference, const MvRegistryOptions *opts, GError **error)
{
  g_autoptr (MvSource) source = (MvSource *)registry_new (opts, error);
  MvRegistrySource *self = (MvRegistrySource *)source;

  self->ref = mv_reference_parse (reference, MV_REFERENCE_NONE, error);
  if (self->ref == NULL)
    return NULL;
  self->reference = mv_reference_to_string (self->ref);
  self->description = g_strconcat ("docker://", self->reference, NULL);
  {
    g_autoptr (GError) local_error = NULL;
    self->basic = find_credentials (opts->authfile, self->ref->domain, &local_error);
    if (local_error != NULL)
      {
        g_propagate_error (error, g_steal_pointer (&local_error));
        return NULL;
      }
  }
  if (!registry_connect (self, opts, error))
    return NULL;
  return g_steal_pointer (&source);
}

gboolean
mv_registry_login (const char *registry, const char *user, const char *password,
                   const MvRegistryOptions *opts, GCancellable *cancellable, GError **error)
{
  g_autoptr (MvSource) source = (MvSource *)registry_new (opts, error);
  MvRegistrySource *self = (MvRegistrySource *)source;
  g_autoptr (MvHttpResponse) resp = NULL;

  if (strchr (registry, '/') != NULL || *registry == '\0')
    return mv_throw (error, MV_ERROR_INVALID_REFERENCE, "'%s' is not a registry host[:port]",
                     registry);
  self->ref = g_new0 (MvReference, 1);
  self->ref->domain = g_strdup (g_str_equal (registry, "index.docker.io") ? "docker.io" : registry);
  self->ref->path = g_strdup ("");
  self->reference = g_strdup (self->ref->domain);
  self->description = g_strdup (self->ref->domain);
  self->basic = g_strconcat (user, ":", password, NULL);
  if (!registry_connect (self, opts, error))
    return FALSE;
  /* GET /v2/ answers 401 with a challenge; request() answers it once with our credentials. */
  resp = request (self, "", NULL, 64 * 1024, NULL, cancellable, error);
  return resp != NULL;
}

char *
mv_registry_auth_key (const char *registry)
{
  return g_strdup (g_str_equal (registry, "index.docker.io") ? "docker.io" : registry);
}

char *
mv_auth_file_default (void)
{
  const char *env = g_getenv ("REGISTRY_AUTH_FILE");
  if (env != NULL && *env)
    return g_strdup (env);
  return g_strdup_printf ("/run/containers/%u/auth.json", (guint)getuid ());
}

gboolean
mv_auth_file_set (const char *path, const char *key, const char *user_pass, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GBytes) old = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *data = NULL;
  JsonObject *obj, *auths;
  gsize len;

  old = mv_file_get_contents_at (AT_FDCWD, path, FALSE, AUTH_FILE_MAX, &local_error);
  if (old == NULL && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (old != NULL)
    {
      root = mv_json_parse_object (g_bytes_get_data (old, NULL), g_bytes_get_size (old),
                                   AUTH_FILE_MAX, path, error);
      if (root == NULL)
        return FALSE;
    }
  else
    {
      g_autoptr (JsonObject) empty = json_object_new ();
      root = json_node_init_object (json_node_alloc (), empty); /* takes its own reference */
    }
  obj = json_node_get_object (root);
  if (!json_object_has_member (obj, "auths")
      || !JSON_NODE_HOLDS_OBJECT (json_object_get_member (obj, "auths")))
    json_object_set_object_member (obj, "auths", json_object_new ());
  auths = json_object_get_object_member (obj, "auths");
  if (user_pass == NULL)
    {
      if (!json_object_has_member (auths, key))
        return mv_throw (error, MV_ERROR_NOT_FOUND, "%s: not logged in to %s", path, key);
      json_object_remove_member (auths, key);
    }
  else
    {
      JsonObject *entry = json_object_new ();
      g_autofree char *b64 = g_base64_encode ((const guchar *)user_pass, strlen (user_pass));
      json_object_set_string_member (entry, "auth", b64);
      json_object_set_object_member (auths, key, entry);
    }
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  data = json_generator_to_data (gen, &len);
  if (g_mkdir_with_parents (dir, 0700) < 0)
    return mv_throw_errno_prefix (error, "creating '%s'", dir);
  /* 0600 and replaced atomically: never a moment with half a file or loose permissions. */
  if (!mv_file_replace_contents_at (AT_FDCWD, path, data, len, 0600, error))
    return FALSE;
  memset (data, 0, len);
  return TRUE;
}
