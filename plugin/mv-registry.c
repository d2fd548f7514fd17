/* mv-registry: an OCI registry as a model source (distribution API, pull only).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mv-digest-private.h"
#include "mv-error-private.h"
#include "mv-limits-private.h"
#include "mv-fdio-private.h"
#include "mv-http-private.h"
#include "mv-manifest-private.h"
#include "mv-path-private.h"
#include "mv-reference-private.h"
#include "mv-registry-private.h"
#include "mv-source-private.h"

#define TOKEN_MAX (mv_limits ()->token_bytes)
#define AUTH_FILE_MAX (1024 * 1024)
#define MAX_REDIRECTS 5
#define DEFAULT_CERTS_DIR "/etc/containers/certs.d"
/* Manifests, configs, tokens: always done within this, --timeout or not. */
#define SMALL_DEADLINE_S 300
/* A token without expires_in lives this long (distribution token spec). */
#define TOKEN_DEFAULT_LIFETIME_S 60
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
  guint timeout_s;         /* the overall deadline of a blob or request; 0: none for blobs */
  guint retry_after_max_s; /* the longest Retry-After honoured */
  char *basic;             /* "user:pass" from auth.json, or NULL */
  /* Auth state, shared by layer threads. Held while a token is fetched, so that threads that
   * find the token expired, or refused, wait for one new token instead of each getting one. */
  GMutex auth_mutex;
  char *authorization;        /* a Basic "Authorization: ..." header, or NULL */
  char *challenge;            /* the last Bearer challenge: tokens are fetched before requests */
  char *scope;                /* its scope, the key of the token requests carry */
  GHashTable *tokens;         /* scope -> Token */
  GMutex mutex;               /* the caches below */
  GHashTable *manifests;      /* digest -> GBytes already fetched */
  GHashTable *blob_deadlines; /* digest -> gint64 *: a blob's deadline spans its restarts */
} MvRegistrySource;

/* A Bearer token, cached per scope until it expires. */
typedef struct
{
  char *header;   /* "Authorization: Bearer ..." */
  gint64 expires; /* monotonic time after which it is not sent */
} Token;

static void
token_free (Token *tok)
{
  memset (tok->header, 0, strlen (tok->header));
  g_free (tok->header);
  g_free (tok);
}

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
  if (self->authorization)
    memset (self->authorization, 0, strlen (self->authorization));
  g_free (self->authorization);
  g_free (self->challenge);
  g_free (self->scope);
  g_hash_table_unref (self->tokens);
  g_mutex_clear (&self->auth_mutex);
  g_mutex_clear (&self->mutex);
  g_hash_table_unref (self->manifests);
  g_hash_table_unref (self->blob_deadlines);
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
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GBytes) out = NULL;
  mv_autofd int in_fd = -1;
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
  /* The request is read from a file, not a pipe: a helper that exits without reading it
   * must not kill us with SIGPIPE (a library leaves the signal's disposition alone). */
  in_fd = memfd_create ("docker-credential-request", MFD_CLOEXEC);
  if (in_fd < 0 || mv_loop_write (in_fd, host, strlen (host)) < 0 || lseek (in_fd, 0, SEEK_SET) < 0)
    {
      mv_throw_errno_prefix (error, "credential helper %s: the request", prog);
      return NULL;
    }
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_take_stdin_fd (launcher, mv_steal_fd (&in_fd));
  proc = g_subprocess_launcher_spawn (launcher, error, prog, "get", NULL);
  if (proc == NULL)
    return NULL;
  {
    g_autoptr (GError) local_error = NULL;
    if (!g_subprocess_communicate (proc, NULL, NULL, &out, NULL, &local_error)
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
      if (out != NULL && g_bytes_get_size (out) > 0
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
    const char *b64 = string_member (entry, "auth");
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
char *
mv_registry_challenge_param (const char *challenge, const char *key)
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
has_space_or_control (const char *s)
{
  for (; *s != '\0'; s++)
    if ((guchar)*s <= 0x20 || *s == 0x7f)
      return TRUE;
  return FALSE;
}

char *
mv_registry_token_url (const char *challenge, const char *scope, const char *reference,
                       gboolean insecure, const char *host, GError **error)
{
  g_autofree char *realm = mv_registry_challenge_param (challenge, "realm");
  g_autofree char *service = mv_registry_challenge_param (challenge, "service");
  g_autoptr (GUri) realm_uri = NULL;

  if (realm == NULL)
    {
      mv_throw (error, MV_ERROR_AUTH, "%s: token challenge without a realm", reference);
      return NULL;
    }
  realm_uri = g_uri_parse (realm, G_URI_FLAGS_NONE, NULL);
  /* Tokens only over https, except from an insecure registry's own host. The URL goes to
   * libcurl as is, so what GLib's parser lets through and libcurl might read otherwise is
   * refused too: spaces and control characters (even CR and LF), and no "//host" (GLib reads
   * "https:example.com" as a path, libcurl as a host). */
  if (realm_uri == NULL || has_space_or_control (realm) || g_uri_get_host (realm_uri) == NULL
      || *g_uri_get_host (realm_uri) == '\0'
      || (g_strcmp0 (g_uri_get_scheme (realm_uri), "https") != 0
          && !(insecure && g_strcmp0 (g_uri_get_scheme (realm_uri), "http") == 0
               && same_host_name (host, g_uri_get_host (realm_uri)))))
    {
      g_autofree char *shown = mv_escape_for_display (realm, 200);
      mv_throw (error, MV_ERROR_AUTH, "%s: refusing token realm '%s' (not https)", reference,
                shown);
      return NULL;
    }
  {
    g_autofree char *esc_service = service ? g_uri_escape_string (service, NULL, FALSE) : NULL;
    g_autofree char *esc_scope = *scope ? g_uri_escape_string (scope, NULL, FALSE) : NULL;
    GString *u = g_string_new (realm);
    char sep = strchr (realm, '?') ? '&' : '?';
    if (esc_scope)
      {
        g_string_append_printf (u, "%cscope=%s", sep, esc_scope);
        sep = '&';
      }
    if (esc_service)
      g_string_append_printf (u, "%cservice=%s", sep, esc_service);
    return g_string_free (u, FALSE);
  }
}

static gboolean
token_expired (const Token *tok)
{
  return g_get_monotonic_time () >= tok->expires;
}

/* The scope a token request asks for: the challenge's, else pull on our repository (a login,
 * with no repository, asks for none, as podman does). "" when none. */
static char *
bearer_scope (MvRegistrySource *self, const char *challenge)
{
  g_autofree char *scope = mv_registry_challenge_param (challenge, "scope");
  if (scope != NULL)
    return g_steal_pointer (&scope);
  if (*self->ref->path)
    return g_strdup_printf ("repository:%s:pull", self->ref->path);
  return g_strdup ("");
}

/* Small requests (tokens, manifests, configs) are always done within SMALL_DEADLINE_S, or
 * within --timeout when it is shorter. */
static gint64
small_deadline (MvRegistrySource *self)
{
  guint secs = self->timeout_s > 0 ? MIN (self->timeout_s, SMALL_DEADLINE_S) : SMALL_DEADLINE_S;
  return g_get_monotonic_time () + (gint64)secs * G_USEC_PER_SEC;
}

/* GET a token from the challenge's realm (https only, except an insecure registry's own
 * host), with our Basic credentials if we have any. Its lifetime is expires_in (default 60 s)
 * counted from when we asked, less a margin, so that it is never sent just as it expires. */
static Token *
fetch_token (MvRegistrySource *self, const char *challenge, const char *scope,
             GCancellable *cancellable, GError **error)
{
  g_autofree char *url = NULL;
  g_autofree char *basic_hdr = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autoptr (JsonNode) root = NULL;
  const char *hdrs[2] = { NULL, NULL };
  const char *token;
  gint64 asked = g_get_monotonic_time ();
  gint64 lifetime;
  Token *tok;

  url = mv_registry_token_url (challenge, scope, self->reference, self->insecure, self->host,
                               error);
  if (url == NULL)
    return NULL;
  if (self->basic != NULL)
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *)self->basic, strlen (self->basic));
      basic_hdr = g_strconcat ("Authorization: Basic ", b64, NULL);
      hdrs[0] = basic_hdr;
    }
  resp = mv_http_get (&self->http, url, hdrs, TOKEN_MAX, small_deadline (self), cancellable, error);
  if (basic_hdr != NULL)
    memset (basic_hdr, 0, strlen (basic_hdr));
  if (resp == NULL)
    {
      mv_prefix_error (error, "%s: getting a token", self->reference);
      return NULL;
    }
  if (resp->status != 200)
    {
      mv_throw (error, MV_ERROR_AUTH, "%s: the token server answered %ld", self->reference,
                resp->status);
      return NULL;
    }
  root = mv_json_parse_object (g_bytes_get_data (resp->body, NULL), g_bytes_get_size (resp->body),
                               TOKEN_MAX, "token", error);
  if (root == NULL)
    return NULL;
  token = string_member (json_node_get_object (root), "token");
  if (token == NULL)
    token = string_member (json_node_get_object (root), "access_token");
  if (token == NULL || *token == '\0' || strpbrk (token, "\r\n") != NULL)
    {
      mv_throw (error, MV_ERROR_AUTH, "%s: the token server sent no usable token", self->reference);
      return NULL;
    }
  {
    JsonNode *n = json_object_get_member (json_node_get_object (root), "expires_in");
    lifetime
        = n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
              ? json_node_get_int (n)
              : 0;
    if (lifetime <= 0)
      lifetime = TOKEN_DEFAULT_LIFETIME_S;
    lifetime = MIN (lifetime, 24 * 3600) * G_USEC_PER_SEC;
  }
  tok = g_new0 (Token, 1);
  tok->header = g_strconcat ("Authorization: Bearer ", token, NULL);
  /* A tenth of its life, at most 10 s: slack for the request still to come. */
  tok->expires = asked + lifetime - MIN (lifetime / 10, 10 * G_USEC_PER_SEC);
  {
    /* The scope comes from the registry's challenge: escaped, like any remote string. */
    g_autofree char *shown = mv_escape_for_display (scope, 200);
    g_debug ("%s: a token for scope '%s', valid %" G_GINT64_FORMAT " s", self->reference, shown,
             lifetime / G_USEC_PER_SEC);
  }
  return tok;
}

/* Answers a 401 challenge. @sent is the Authorization header the refused request carried:
 * if another thread has replaced that token meanwhile, its new one is used instead of
 * fetching yet another. Call with auth_mutex held. */
static gboolean
authenticate_locked (MvRegistrySource *self, const char *challenge, const char *sent,
                     GCancellable *cancellable, GError **error)
{
  if (g_ascii_strncasecmp (challenge, "Basic", 5) == 0)
    {
      g_autofree char *b64 = NULL;
      if (self->basic == NULL)
        return mv_throw (error, MV_ERROR_AUTH,
                         "%s: the registry wants credentials (modelvol "
                         "login %s)",
                         self->reference, self->ref->domain);
      b64 = g_base64_encode ((const guchar *)self->basic, strlen (self->basic));
      g_free (self->authorization);
      self->authorization = g_strconcat ("Authorization: Basic ", b64, NULL);
      memset (b64, 0, strlen (b64));
      return TRUE;
    }
  if (g_ascii_strncasecmp (challenge, "Bearer", 6) == 0)
    {
      g_autofree char *scope = bearer_scope (self, challenge);
      Token *cur = g_hash_table_lookup (self->tokens, scope);

      if (cur == NULL || g_strcmp0 (cur->header, sent) == 0 || token_expired (cur))
        {
          Token *tok = fetch_token (self, challenge, scope, cancellable, error);
          if (tok == NULL)
            return FALSE;
          g_hash_table_replace (self->tokens, g_strdup (scope), tok);
        }
      g_free (self->challenge);
      self->challenge = g_strdup (challenge);
      g_free (self->scope);
      self->scope = g_steal_pointer (&scope);
      return TRUE;
    }
  return mv_throw (error, MV_ERROR_AUTH, "%s: unsupported authentication scheme", self->reference);
}

static gboolean
authenticate (MvRegistrySource *self, const char *challenge, const char *sent,
              GCancellable *cancellable, GError **error)
{
  gboolean ok;
  g_mutex_lock (&self->auth_mutex);
  ok = authenticate_locked (self, challenge, sent, cancellable, error);
  g_mutex_unlock (&self->auth_mutex);
  return ok;
}

/* The Authorization header for the next request (nullable): Basic, or the token for the
 * current scope, fetched anew first when it has expired. */
static gboolean
current_authorization (MvRegistrySource *self, char **out_header, GCancellable *cancellable,
                       GError **error)
{
  gboolean ok = TRUE;

  g_mutex_lock (&self->auth_mutex);
  if (self->challenge != NULL)
    {
      Token *tok = g_hash_table_lookup (self->tokens, self->scope);
      if (tok == NULL || token_expired (tok))
        {
          g_autofree char *shown = mv_escape_for_display (self->scope, 200);
          g_debug ("%s: the token for scope '%s' has expired; getting a new one", self->reference,
                   shown);
          tok = fetch_token (self, self->challenge, self->scope, cancellable, error);
          if (tok != NULL)
            g_hash_table_replace (self->tokens, g_strdup (self->scope), tok);
        }
      ok = tok != NULL;
      *out_header = ok ? g_strdup (tok->header) : NULL;
    }
  else
    *out_header = g_strdup (self->authorization);
  g_mutex_unlock (&self->auth_mutex);
  return ok;
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

typedef enum
{
  REQ_BODY,   /* GET, the body capped in memory */
  REQ_STREAM, /* GET, the body as a stream */
  REQ_HEAD,
} ReqKind;

typedef struct
{
  const char *path;   /* under /v2/ */
  const char *accept; /* nullable: an "Accept: ..." header */
  ReqKind kind;
  gsize max_body; /* REQ_BODY */
  gint64 deadline;
} Req;

/* @path on the registry, handling 401 (one new token or Basic header) and redirects. */
static MvHttpResponse *
request_once (MvRegistrySource *self, const Req *req, GInputStream **out_stream,
              MvHttpResponse **out_last, GCancellable *cancellable, GError **error)
{
  g_autofree char *url = g_strdup_printf ("%s://%s/v2/%s", self->scheme, self->host, req->path);
  gboolean retried_auth = FALSE;
  gboolean same_host = TRUE;

  for (int hop = 0; hop <= MAX_REDIRECTS; hop++)
    {
      g_autoptr (MvHttpResponse) resp = NULL;
      g_autofree char *authz = NULL;
      const char *hdrs[3] = { NULL, NULL, NULL };
      int n = 0;

      /* Credentials go to the registry host only, never to a redirect target. */
      if (same_host && !current_authorization (self, &authz, cancellable, error))
        return NULL;
      if (req->accept)
        hdrs[n++] = req->accept;
      if (authz)
        hdrs[n++] = authz;

      if (req->kind == REQ_STREAM)
        {
          *out_stream = mv_http_get_stream (&self->http, url, hdrs, req->deadline, &resp,
                                            cancellable, error);
          if (*out_stream == NULL && resp == NULL)
            return NULL;
        }
      else
        {
          resp = req->kind == REQ_HEAD
                     ? mv_http_head (&self->http, url, hdrs, req->deadline, cancellable, error)
                     : mv_http_get (&self->http, url, hdrs, req->max_body, req->deadline,
                                    cancellable, error);
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
          if (!authenticate (self, challenge, authz, cancellable, error))
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
          if (resp->status == 401 && retried_auth && authz != NULL
              && g_str_has_prefix (authz, "Authorization: Bearer "))
            mv_throw (error, MV_ERROR_AUTH, "%s: %s: unauthorized (HTTP 401) with a new token",
                      self->reference, req->path);
          else if (resp->status == 401 || resp->status == 403)
            mv_throw (error, MV_ERROR_AUTH, "%s: %s (HTTP %ld)", self->reference,
                      http_reason (resp->status), resp->status);
          else if (resp->status == 404)
            mv_throw (error, MV_ERROR_NOT_FOUND, "%s: %s not found on the registry",
                      self->reference, req->path);
          else
            mv_throw (error, MV_ERROR_FAILED, "%s: %s: %s (HTTP %ld)", self->reference, req->path,
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

static gboolean
sleep_cancellable (guint64 ms, GCancellable *cancellable, GError **error)
{
  for (guint64 slept = 0; slept < ms; slept += 50)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_usleep (MIN (ms - slept, 50) * 1000);
    }
  return TRUE;
}

static gboolean
worth_another_try (GError *error, MvHttpResponse *last)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
         || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
         || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
         || (last != NULL && (last->status == 429 || last->status >= 500));
}

/* request_once() with bounded retries and capped exponential backoff for what is worth
 * another try: 429 (honouring Retry-After: seconds or an HTTP-date, capped), 5xx, and
 * transport failures (including the low-speed limit); never past the deadline. */
static MvHttpResponse *
request (MvRegistrySource *self, const Req *req, GInputStream **out_stream,
         GCancellable *cancellable, GError **error)
{
  guint64 backoff = BACKOFF_FIRST_MS;

  for (int attempt = 1;; attempt++)
    {
      g_autoptr (GError) local_error = NULL;
      g_autoptr (MvHttpResponse) last = NULL;
      MvHttpResponse *resp = request_once (self, req, out_stream, &last, cancellable, &local_error);
      guint64 wait_ms;

      if (resp != NULL)
        return resp;
      if (attempt == MAX_ATTEMPTS || !worth_another_try (local_error, last))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      wait_ms = mv_http_retry_after_ms (last, (guint64)self->retry_after_max_s * 1000);
      if (wait_ms == 0)
        wait_ms = backoff;
      backoff = MIN (backoff * 2, BACKOFF_MAX_MS);
      if (req->deadline > 0 && g_get_monotonic_time () + (gint64)wait_ms * 1000 >= req->deadline)
        {
          g_debug ("%s; no time for another try before the deadline", local_error->message);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_debug ("%s; retrying in %" G_GUINT64_FORMAT " ms (attempt %d of %d)", local_error->message,
               wait_ms, attempt + 1, MAX_ATTEMPTS);
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
  Req req = { .path = path,
              .accept = manifest_accept,
              .kind = REQ_BODY,
              .max_body = MV_MANIFEST_MAX_SIZE,
              .deadline = small_deadline (self) };
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autofree char *digest = NULL;
  g_autoptr (MvDescriptor) desc = g_new0 (MvDescriptor, 1);
  const char *header_digest;
  const char *ctype;

  resp = request (self, &req, NULL, cancellable, error);
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
      Req req = { .accept = manifest ? manifest_accept : NULL,
                  .kind = REQ_BODY,
                  .max_body = max_size,
                  .deadline = small_deadline (self) };
      path
          = g_strdup_printf ("%s/%s/%s", self->ref->path, manifest ? "manifests" : "blobs", digest);
      req.path = path;
      resp = request (self, &req, NULL, cancellable, error);
      if (resp == NULL)
        return NULL;
      bytes = g_bytes_ref (resp->body);
    }
  return g_steal_pointer (&bytes);
}

/* With --timeout, a blob has that long from its first request to its last byte: resumes and
 * restarts from byte 0 included. */
static gint64
blob_deadline (MvRegistrySource *self, const char *digest)
{
  gint64 *deadline;

  if (self->timeout_s == 0)
    return 0;
  g_mutex_lock (&self->mutex);
  deadline = g_hash_table_lookup (self->blob_deadlines, digest);
  if (deadline == NULL)
    {
      deadline = g_new (gint64, 1);
      *deadline = g_get_monotonic_time () + (gint64)self->timeout_s * G_USEC_PER_SEC;
      g_hash_table_insert (self->blob_deadlines, g_strdup (digest), deadline);
    }
  g_mutex_unlock (&self->mutex);
  return *deadline;
}

static GInputStream *
registry_open_blob (MvSource *source, const MvDescriptor *desc, GCancellable *cancellable,
                    GError **error)
{
  MvRegistrySource *self = (MvRegistrySource *)source;
  g_autofree char *path = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  GInputStream *stream = NULL;
  Req req = { .kind = REQ_STREAM };

  if (!mv_digest_validate (desc->digest, NULL, NULL, error))
    return NULL;
  /* Foreign-layer "urls" are never used: blobs come from the registry only. */
  path = g_strdup_printf ("%s/blobs/%s", self->ref->path, desc->digest);
  req.path = path;
  req.deadline = blob_deadline (self, desc->digest);
  resp = request (self, &req, &stream, cancellable, error);
  if (resp == NULL)
    return NULL;
  return stream;
}

/* Would the registry serve this blob to us, with our own credentials? HEAD on the blob in
 * our repository; 200 with the descriptor's size (when it says one) confirms. Any other
 * answer only leaves it unconfirmed: the caller then fetches the blob itself. */
static gboolean
registry_check_blob (MvSource *source, const MvDescriptor *desc, gboolean *out_confirmed,
                     GCancellable *cancellable, GError **error)
{
  MvRegistrySource *self = (MvRegistrySource *)source;
  g_autofree char *path = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autoptr (GError) local_error = NULL;
  Req req = { .kind = REQ_HEAD, .deadline = small_deadline (self) };
  const char *len;

  if (!mv_digest_validate (desc->digest, NULL, NULL, error))
    return FALSE;
  path = g_strdup_printf ("%s/blobs/%s", self->ref->path, desc->digest);
  req.path = path;
  resp = request (self, &req, NULL, cancellable, &local_error);
  if (resp == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_debug ("%s: blob %s not confirmed: %s", self->reference, desc->digest,
               local_error->message);
      *out_confirmed = FALSE;
      return TRUE;
    }
  len = g_hash_table_lookup (resp->headers, "content-length");
  if (len != NULL && desc->size >= 0 && g_ascii_strtoull (len, NULL, 10) != (guint64)desc->size)
    {
      g_debug ("%s: blob %s not confirmed: the registry says it has another size", self->reference,
               desc->digest);
      *out_confirmed = FALSE;
      return TRUE;
    }
  *out_confirmed = TRUE;
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* Cosign signatures attached to a manifest                                                  */

#define SIMPLE_SIGNING_MEDIA_TYPE "application/vnd.dev.cosign.simplesigning.v1+json"
#define BUNDLE_MEDIA_TYPE_PREFIX "application/vnd.dev.sigstore.bundle"
#define SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"
#define SET_ANNOTATION "dev.sigstore.cosign/bundle"
/* Per attachment: signature layers, referrers; a payload or bundle blob. */
#define MAX_SIGNATURES 32
#define SIGNATURE_BLOB_MAX (4 * 1024 * 1024)
#define SIGNATURE_ANNOTATION_MAX (64 * 1024)

/* A manifest or index at @path_tail under our repository ("manifests/sha256-<hex>.sig",
 * "referrers/sha256:<hex>"), or NULL without error when the registry has none (404). */
static GBytes *
fetch_attachment (MvRegistrySource *self, const char *path_tail, const char *accept,
                  GCancellable *cancellable, GError **error)
{
  g_autofree char *path = g_strdup_printf ("%s/%s", self->ref->path, path_tail);
  Req req = { .path = path,
              .accept = accept,
              .kind = REQ_BODY,
              .max_body = MV_MANIFEST_MAX_SIZE,
              .deadline = small_deadline (self) };
  g_autoptr (GError) local_error = NULL;
  g_autoptr (MvHttpResponse) resp = request (self, &req, NULL, cancellable, &local_error);

  if (resp != NULL)
    return g_bytes_ref (resp->body);
  if (g_error_matches (local_error, MV_ERROR, MV_ERROR_NOT_FOUND))
    return NULL;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

static const char *
annotation (const MvDescriptor *d, const char *key)
{
  return d->annotations ? g_hash_table_lookup (d->annotations, key) : NULL;
}

/* The simple-signing attachment: an image manifest at tag sha256-<hex>.sig whose layers are
 * payloads, each with its signature (and optional Rekor SET) in annotations. */
static gboolean
fetch_simple_signatures (MvRegistrySource *self, const char *digest, GPtrArray *out,
                         GCancellable *cancellable, GError **error)
{
  const char *hex = strchr (digest, ':') + 1;
  g_autofree char *tag = g_strdup_printf ("sha256-%s.sig", hex);
  g_autofree char *tail = g_strconcat ("manifests/", tag, NULL);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (MvManifest) m = NULL;

  body = fetch_attachment (self, tail, manifest_accept, cancellable, &local_error);
  if (body == NULL)
    {
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return mv_prefix_error (error, "signature attachment %s", tag);
        }
      return TRUE;
    }
  m = mv_manifest_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
  if (m == NULL)
    return mv_prefix_error (error, "signature attachment %s", tag);
  if (m->layers->len > MAX_SIGNATURES)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                     "signature attachment %s: %u signatures (at most %d are read)", tag,
                     m->layers->len, MAX_SIGNATURES);
  for (guint i = 0; i < m->layers->len; i++)
    {
      MvDescriptor *d = m->layers->pdata[i];
      g_autoptr (MvSignatureCandidate) c = NULL;
      const char *sig = annotation (d, SIGNATURE_ANNOTATION);
      const char *set = annotation (d, SET_ANNOTATION);

      if (g_strcmp0 (d->media_type, SIMPLE_SIGNING_MEDIA_TYPE) != 0)
        continue;
      if ((sig && strlen (sig) > SIGNATURE_ANNOTATION_MAX)
          || (set && strlen (set) > SIGNATURE_ANNOTATION_MAX))
        return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                         "signature attachment %s layer %u: an annotation over %d bytes", tag, i,
                         SIGNATURE_ANNOTATION_MAX);
      c = g_new0 (MvSignatureCandidate, 1);
      c->form = MV_SIGNATURE_SIMPLE_SIGNING;
      c->where = g_strdup_printf ("%s layer %u", tag, i);
      c->signature_b64 = g_strdup (sig);
      c->set_json = g_strdup (set);
      c->payload = mv_source_fetch_verified (&self->parent, d->digest, d->size, SIGNATURE_BLOB_MAX,
                                             FALSE, cancellable, error);
      if (c->payload == NULL)
        return mv_prefix_error (error, "signature attachment %s layer %u", tag, i);
      g_ptr_array_add (out, g_steal_pointer (&c));
    }
  return TRUE;
}

/* Sigstore bundles: the referrers of @digest (OCI 1.1 referrers API), else the referrers tag
 * schema's index at tag sha256-<hex> (registries without the API: the registry answers 404). */
static gboolean
fetch_bundle_signatures (MvRegistrySource *self, const char *digest, GPtrArray *out,
                         GCancellable *cancellable, GError **error)
{
  const char *hex = strchr (digest, ':') + 1;
  g_autofree char *tail = g_strconcat ("referrers/", digest, NULL);
  g_autofree char *tag = g_strdup_printf ("sha256-%s", hex);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (MvIndex) index = NULL;
  const char *what = "referrers";
  static const char *const index_accept = "Accept: " MV_OCI_INDEX;
  guint n = 0;

  body = fetch_attachment (self, tail, index_accept, cancellable, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return mv_prefix_error (error, "referrers of %s", digest);
    }
  if (body == NULL)
    {
      g_autofree char *tag_tail = g_strconcat ("manifests/", tag, NULL);
      what = tag;
      body = fetch_attachment (self, tag_tail, manifest_accept, cancellable, &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return mv_prefix_error (error, "referrers tag %s", tag);
        }
      if (body == NULL)
        return TRUE;
    }
  index = mv_index_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
  if (index == NULL)
    return mv_prefix_error (error, "%s of %s", what, digest);
  for (guint i = 0; i < index->manifests->len; i++)
    {
      MvDescriptor *d = index->manifests->pdata[i];
      g_autoptr (GBytes) mb = NULL;
      g_autoptr (MvManifest) m = NULL;
      g_autoptr (MvSignatureCandidate) c = NULL;
      MvDescriptor *layer;

      if (d->artifact_type == NULL
          || !g_str_has_prefix (d->artifact_type, BUNDLE_MEDIA_TYPE_PREFIX))
        continue;
      if (++n > MAX_SIGNATURES)
        return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED, "%s of %s: more than %d sigstore bundles",
                         what, digest, MAX_SIGNATURES);
      mb = mv_source_fetch_verified (&self->parent, d->digest, d->size, MV_MANIFEST_MAX_SIZE, TRUE,
                                     cancellable, error);
      if (mb == NULL)
        return mv_prefix_error (error, "%s of %s: bundle manifest %s", what, digest, d->digest);
      m = mv_manifest_parse (g_bytes_get_data (mb, NULL), g_bytes_get_size (mb), error);
      if (m == NULL)
        return mv_prefix_error (error, "%s of %s: bundle manifest %s", what, digest, d->digest);
      /* A referrer names what it refers to; one listed for another manifest is not ours. */
      if (m->subject != NULL && g_strcmp0 (m->subject->digest, digest) != 0)
        continue;
      if (m->layers->len != 1)
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                         "%s of %s: bundle manifest %s has %u layers, not 1", what, digest,
                         d->digest, m->layers->len);
      layer = m->layers->pdata[0];
      if (!g_str_has_prefix (layer->media_type, BUNDLE_MEDIA_TYPE_PREFIX))
        continue;
      c = g_new0 (MvSignatureCandidate, 1);
      c->form = MV_SIGNATURE_BUNDLE;
      c->where = g_strdup_printf ("%s: bundle %s", what, d->digest);
      c->bundle = mv_source_fetch_verified (&self->parent, layer->digest, layer->size,
                                            SIGNATURE_BLOB_MAX, FALSE, cancellable, error);
      if (c->bundle == NULL)
        return mv_prefix_error (error, "%s of %s: bundle %s", what, digest, layer->digest);
      g_ptr_array_add (out, g_steal_pointer (&c));
    }
  return TRUE;
}

static GPtrArray *
registry_fetch_signatures (MvSource *source, const char *digest, GCancellable *cancellable,
                           GError **error)
{
  MvRegistrySource *self = (MvRegistrySource *)source;
  g_autoptr (GPtrArray) out
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_signature_candidate_free);

  if (!mv_digest_validate (digest, NULL, NULL, error))
    return NULL;
  if (!g_str_has_prefix (digest, "sha256:"))
    return g_steal_pointer (&out); /* cosign names attachments by sha256 only */
  if (!fetch_simple_signatures (self, digest, out, cancellable, error)
      || !fetch_bundle_signatures (self, digest, out, cancellable, error))
    return NULL;
  return g_steal_pointer (&out);
}

static const MvSourceClass registry_class = {
  .get_root = registry_get_root,
  .fetch_bytes = registry_fetch_bytes,
  .open_blob = registry_open_blob,
  .check_blob = registry_check_blob,
  .fetch_signatures = registry_fetch_signatures,
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
  resp = mv_http_get (&self->http, url, NULL, 64 * 1024, small_deadline (self), cancellable,
                      &local_error);
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
  g_mutex_init (&self->auth_mutex);
  self->manifests
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
  self->blob_deadlines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->tokens
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)token_free);
  self->insecure = !opts->tls_verify;
  self->http.tls_verify = opts->tls_verify;
  return self;
}

/* A setting: the option if given (> 0; < 0 means 0), else $ENV, else @dflt. A bad value is an
 * error that names it rather than a silent default. */
static gboolean
setting (int option, const char *env, guint64 min, guint64 max, guint64 dflt, guint *out,
         GError **error)
{
  const char *v = g_getenv (env);
  guint64 n = dflt;

  if (option != 0)
    {
      if (option > 0 && ((guint64)option < min || (guint64)option > max))
        return mv_throw (error, MV_ERROR_FAILED,
                         "%d is out of range for %s (%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                         ")",
                         option, env, min, max);
      *out = option < 0 ? 0 : option;
      return TRUE;
    }
  if (v != NULL && *v != '\0' && !g_ascii_string_to_unsigned (v, 10, min, max, &n, NULL))
    {
      g_autofree char *shown = mv_escape_for_display (v, 40);
      return mv_throw (error, MV_ERROR_FAILED,
                       "$%s: '%s' is not a whole number from %" G_GUINT64_FORMAT
                       " to %" G_GUINT64_FORMAT,
                       env, shown, min, max);
    }
  *out = (guint)n;
  return TRUE;
}

static gboolean
registry_connect (MvRegistrySource *self, const MvRegistryOptions *opts, GError **error)
{
  guint low_speed_time, low_speed_limit;

  if (!setting (opts->timeout, "MODELVOL_TIMEOUT", 0, 7 * 24 * 3600, 0, &self->timeout_s, error)
      || !setting (opts->low_speed_time, "MODELVOL_LOW_SPEED_TIME", 1, 24 * 3600, 60,
                   &low_speed_time, error)
      || !setting (opts->low_speed_limit, "MODELVOL_LOW_SPEED_LIMIT", 1, G_MAXINT32, 1024,
                   &low_speed_limit, error)
      || !setting (0, "MODELVOL_RETRY_AFTER_MAX", 0, 3600, 30, &self->retry_after_max_s, error))
    return FALSE;
  self->http.low_speed_time = low_speed_time;
  self->http.low_speed_limit = low_speed_limit;
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
  {
    Req req = {
      .path = "", .kind = REQ_BODY, .max_body = 64 * 1024, .deadline = small_deadline (self)
    };
    resp = request (self, &req, NULL, cancellable, error);
  }
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
