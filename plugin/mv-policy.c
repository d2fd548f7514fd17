/* mv-policy: containers-policy.json and registries.d's use-sigstore-attachments
 * (mv-policy-private.h).
 *
 * What is read, and how, follows containers/image: signature/policy_config.go and
 * policy_config_sigstore.go (members and which combinations are valid),
 * signature/policy_reference_match.go (signedIdentity), docker/policyconfiguration/naming.go
 * (the scopes a reference is looked up under) and docker/registries_d.go (registries.d),
 * written anew on mv-json and libyaml. Stricter than containers where containers would
 * silently accept a policy that cannot mean what it says: scopes that are not a registry
 * host[:port][/path][:tag|@digest] or a *.domain wildcard are refused.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-json-private.h"
#include "mv-path-private.h"
#include "mv-policy-private.h"
#include "mv-reference-private.h"

#define SHOWN_MAX 200     /* bytes of an outside string shown in a message */
#define YAML_DEPTH_MAX 32 /* nesting of a registries.d file */
#define YAML_BOOL_TAG "tag:yaml.org,2002:bool"
#define YAML_NULL_TAG "tag:yaml.org,2002:null"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DIR, closedir)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_event_t, yaml_event_delete)

struct MvPolicy
{
  GPtrArray *default_reqs; /* (element-type MvPolicyRequirement) */
  GHashTable *docker;      /* scope as written -> GPtrArray of MvPolicyRequirement */
};

const char *
mv_policy_default_path (void)
{
  return "/etc/containers/policy.json";
}

/* Names: the registry host, scopes, remapIdentity prefixes */

/* host[:port] alone, or host[:port]/path[:tag][@digest] (@allow_tag) written in full: the first
 * component must be what the reference grammar takes for the registry (a scope whose first
 * component is not, "library/busybox", names nothing a normalized reference can have). */
static gboolean
check_name (const char *s, gboolean allow_tag, char **out_reason)
{
  const char *slash = strchr (s, '/');
  g_autofree char *host = slash != NULL ? g_strndup (s, slash - s) : g_strdup (s);
  g_autofree char *under_host = NULL;
  g_autofree char *canonical = NULL;
  g_autoptr (MvReference) ref = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *reason;

  if (*s == '\0')
    {
      *out_reason = g_strdup ("empty");
      return FALSE;
    }
  if ((reason = mv_reference_check_domain (host)) != NULL)
    {
      *out_reason = g_strdup (reason);
      return FALSE;
    }
  /* A host alone is checked as a name under it would be: "busybox" or "index.docker.io" is
   * no registry host a normalized reference has. */
  if (slash == NULL)
    under_host = g_strconcat (s, "/x", NULL);
  ref = mv_reference_parse (slash != NULL ? s : under_host, MV_REFERENCE_NO_DEFAULT_TAG,
                            &local_error);
  if (ref == NULL)
    {
      *out_reason = g_strdup (local_error->message);
      return FALSE;
    }
  if (strcmp (ref->domain, host) != 0)
    {
      g_autofree char *shown = mv_escape_for_display (host, SHOWN_MAX);
      *out_reason = g_strdup_printf ("'%s' is not a registry host (names are written in full, "
                                     "as docker.io/library/busybox)",
                                     shown);
      return FALSE;
    }
  if (slash == NULL || (ref->tag == NULL && ref->digest == NULL))
    return TRUE;
  if (!allow_tag)
    {
      *out_reason = g_strdup ("a tag or digest is not allowed here");
      return FALSE;
    }
  /* A reference is looked up normalized: "docker.io/busybox:1" would never match (without a
   * tag or digest, docker.io/busybox is the namespace of docker.io/busybox/...). */
  canonical = mv_reference_to_string (ref);
  if (strcmp (canonical, s) != 0)
    {
      g_autofree char *shown = mv_escape_for_display (canonical, SHOWN_MAX);
      *out_reason = g_strdup_printf ("not written in full (as '%s')", shown);
      return FALSE;
    }
  return TRUE;
}

/* A scope of the docker transport, not "": "*.domain", or check_name() with a tag/digest. */
static gboolean
check_scope (const char *scope, char **out_reason)
{
  if (g_str_has_prefix (scope, "*."))
    {
      /* mv_reference_check_domain() takes "" for a domain: "*." alone is checked here. */
      if (scope[2] == '\0' || scope[2] == '[' || strchr (scope, ':') != NULL
          || mv_reference_check_domain (scope + 2) != NULL)
        {
          *out_reason = g_strdup ("a wildcard is \"*.\" and a domain name, without a port");
          return FALSE;
        }
      return TRUE;
    }
  return check_name (scope, TRUE, out_reason);
}

/* The scopes @reference is looked up under, most specific first (naming.go:
 * PolicyConfigurationIdentity, then PolicyConfigurationNamespaces). */
static GPtrArray *
scope_candidates (const char *reference)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (MvReference) ref = mv_reference_parse (reference, MV_REFERENCE_NO_DEFAULT_TAG, NULL);
  g_autofree char *name = NULL;
  char *slash;
  char *colon;

  if (ref == NULL)
    {
      /* Not a reference anything pulls; only the transport default and default apply. */
      return out;
    }
  name = mv_reference_repository (ref);
  if (ref->tag != NULL || ref->digest != NULL)
    g_ptr_array_add (out, mv_reference_to_string (ref));
  if (ref->tag != NULL && ref->digest != NULL)
    {
      g_ptr_array_add (out, g_strconcat (name, ":", ref->tag, NULL));
      g_ptr_array_add (out, g_strconcat (name, "@", ref->digest, NULL));
    }
  for (;;)
    {
      g_ptr_array_add (out, g_strdup (name));
      slash = strrchr (name, '/');
      if (slash == NULL)
        break;
      *slash = '\0';
    }
  /* name is the host now; wildcards from it without the port, as containers/image does. */
  colon = strchr (name, ':');
  if (colon != NULL)
    *colon = '\0';
  for (const char *dot = strchr (name, '.'); dot != NULL; dot = strchr (dot + 1, '.'))
    g_ptr_array_add (out, g_strconcat ("*.", dot + 1, NULL));
  return out;
}

/* Base64 (mv_base64_decode_strict(): also for mv-sigstore.c) */

static int
b64_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

GBytes *
mv_base64_decode_strict (const char *s, gsize len)
{
  g_autoptr (GByteArray) out = NULL;
  gsize pad = 0;

  if (s == NULL || len % 4 != 0)
    return NULL;
  if (len > 0 && s[len - 1] == '=')
    pad = (len > 1 && s[len - 2] == '=') ? 2 : 1;
  out = g_byte_array_sized_new (len / 4 * 3);
  for (gsize i = 0; i < len; i += 4)
    {
      gboolean last = i + 4 == len;
      int v[4];
      guint32 w;

      for (int j = 0; j < 4; j++)
        {
          if (last && j >= 4 - (int)pad)
            v[j] = 0;
          else if ((v[j] = b64_value (s[i + j])) < 0)
            return NULL;
        }
      w = (guint32)v[0] << 18 | (guint32)v[1] << 12 | (guint32)v[2] << 6 | (guint32)v[3];
      if (last && pad == 2 && (v[1] & 0x0f) != 0)
        return NULL;
      if (last && pad == 1 && (v[2] & 0x03) != 0)
        return NULL;
      {
        guint8 b[3] = { w >> 16, w >> 8, w };
        g_byte_array_append (out, b, last ? 3 - pad : 3);
      }
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* Files */

static GBytes *
read_regular_file (int dfd, const char *path, const char *shown, gsize max_size, GError **error)
{
  mv_autofd int fd = openat (dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  struct stat st;

  if (fd < 0)
    {
      mv_throw_errno_prefix (error, "opening '%s'", shown);
      return NULL;
    }
  if (fstat (fd, &st) < 0)
    {
      mv_throw_errno_prefix (error, "stat of '%s'", shown);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "'%s' is not a regular file",
                   shown);
      return NULL;
    }
  return mv_fd_read_all (fd, max_size, shown, error);
}

/* The policy */

static void
identity_clear (MvSignedIdentity *id)
{
  g_clear_pointer (&id->docker_reference, g_free);
  g_clear_pointer (&id->docker_repository, g_free);
  g_clear_pointer (&id->prefix, g_free);
  g_clear_pointer (&id->signed_prefix, g_free);
}

static void
requirement_free (MvPolicyRequirement *req)
{
  if (req == NULL)
    return;
  g_free (req->type);
  g_clear_pointer (&req->keys, g_ptr_array_unref);
  g_clear_pointer (&req->rekor_keys, g_ptr_array_unref);
  identity_clear (&req->identity);
  g_free (req->unsupported_why);
  g_free (req);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvPolicyRequirement, requirement_free)

void
mv_policy_free (MvPolicy *policy)
{
  if (policy == NULL)
    return;
  g_clear_pointer (&policy->default_reqs, g_ptr_array_unref);
  g_clear_pointer (&policy->docker, g_hash_table_unref);
  g_free (policy);
}

typedef struct
{
  const char *shown;  /* the file, escaped */
  gboolean read_keys; /* key files are read (default and the docker transport) */
} Parse;

static gboolean refuse (Parse *p, const char *place, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

/* One line: "policy 'FILE': PLACE: what is wrong". */
static gboolean
refuse (Parse *p, const char *place, GError **error, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (place == NULL || *place == '\0')
    return mv_throw (error, MV_ERROR_SIGNATURE, "policy '%s': %s", p->shown, msg);
  return mv_throw (error, MV_ERROR_SIGNATURE, "policy '%s': %s: %s", p->shown, place, msg);
}

static char *
member_place (const char *place, const char *member)
{
  return g_strdup_printf ("%s.%s", place, member);
}

static gboolean
check_members (Parse *p, const char *place, JsonObject *o, const char *const *known, GError **error)
{
  g_autoptr (GList) members = json_object_get_members (o);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_autofree char *shown = mv_escape_for_display (l->data, SHOWN_MAX);
        return refuse (p, place, error, "unknown member \"%s\"", shown);
      }
  return TRUE;
}

static gboolean
node_is_string (JsonNode *n)
{
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING;
}

/* Member @name of @o as a string; absent leaves *out NULL. */
static gboolean
get_string (Parse *p, const char *place, JsonObject *o, const char *name, const char **out,
            GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  *out = NULL;
  if (n == NULL)
    return TRUE;
  if (!node_is_string (n))
    {
      g_autofree char *where = member_place (place, name);
      return refuse (p, where, error, "not a string");
    }
  *out = json_node_get_string (n);
  return TRUE;
}

/* A required, non-empty string member. */
static gboolean
get_required_string (Parse *p, const char *place, JsonObject *o, const char *name, const char **out,
                     GError **error)
{
  if (!get_string (p, place, o, name, out, error))
    return FALSE;
  if (*out == NULL)
    return refuse (p, place, error, "no \"%s\"", name);
  if (**out == '\0')
    {
      g_autofree char *where = member_place (place, name);
      return refuse (p, where, error, "empty");
    }
  return TRUE;
}

/* Member @name of @o as a non-empty array of at most MV_POLICY_KEYS_MAX strings; absent leaves
 * *out NULL. */
static gboolean
get_string_array (Parse *p, const char *place, JsonObject *o, const char *name, JsonArray **out,
                  GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  g_autofree char *where = member_place (place, name);
  JsonArray *a;
  guint len;

  *out = NULL;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return refuse (p, where, error, "not an array");
  a = json_node_get_array (n);
  len = json_array_get_length (a);
  if (len == 0)
    return refuse (p, where, error, "an empty array");
  if (len > MV_POLICY_KEYS_MAX)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                     "policy '%s': %s: %u entries, above the limit of %d", p->shown, where, len,
                     MV_POLICY_KEYS_MAX);
  for (guint i = 0; i < len; i++)
    if (!node_is_string (json_array_get_element (a, i)))
      return refuse (p, where, error, "entry %u is not a string", i);
  *out = a;
  return TRUE;
}

static gboolean
check_base64 (Parse *p, const char *place, const char *b64, GBytes **out, GError **error)
{
  g_autoptr (GBytes) bytes = mv_base64_decode_strict (b64, b64 != NULL ? strlen (b64) : 0);

  if (bytes == NULL)
    return refuse (p, place, error, "not strict base64 (RFC 4648 with padding, no white space)");
  if (g_bytes_get_size (bytes) == 0)
    return refuse (p, place, error, "empty");
  if (g_bytes_get_size (bytes) > MV_POLICY_KEY_MAX)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                     "policy '%s': %s: %" G_GSIZE_FORMAT " bytes, above the limit of %d bytes",
                     p->shown, place, g_bytes_get_size (bytes), MV_POLICY_KEY_MAX);
  if (out != NULL)
    *out = g_steal_pointer (&bytes);
  return TRUE;
}

/* A key file: into @out (NULL: only checked, as for GPG keys, whose files are never read). */
static gboolean
add_key_file (Parse *p, const char *place, const char *path, GPtrArray *out, GError **error)
{
  g_autofree char *shown = mv_escape_for_display (path, SHOWN_MAX);
  GBytes *pem;

  if (*path == '\0')
    return refuse (p, place, error, "an empty path");
  if (out == NULL)
    return TRUE;
  if (!g_path_is_absolute (path))
    return refuse (p, place, error, "'%s' is not an absolute path", shown);
  if (!p->read_keys)
    return TRUE;
  pem = read_regular_file (AT_FDCWD, path, shown, MV_POLICY_KEY_MAX, error);
  if (pem == NULL)
    return mv_prefix_error (error, "policy '%s': %s", p->shown, place);
  g_ptr_array_add (out, pem);
  return TRUE;
}

static gboolean
add_key_data (Parse *p, const char *place, const char *b64, GPtrArray *out, GError **error)
{
  GBytes *pem = NULL;

  if (!check_base64 (p, place, b64, out != NULL ? &pem : NULL, error))
    return FALSE;
  if (out != NULL)
    g_ptr_array_add (out, pem);
  return TRUE;
}

/* The names of one set of key members. */
typedef struct
{
  const char *path, *paths, *data, *datas; /* datas: NULL for signedBy */
} KeyMembers;

static const KeyMembers sigstore_keys = { "keyPath", "keyPaths", "keyData", "keyDatas" };
static const KeyMembers rekor_keys
    = { "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas" };
static const KeyMembers gpg_keys = { "keyPath", "keyPaths", "keyData", NULL };

static guint
count_sources (JsonObject *o, const KeyMembers *names)
{
  return json_object_has_member (o, names->path) + json_object_has_member (o, names->paths)
         + json_object_has_member (o, names->data)
         + (names->datas != NULL && json_object_has_member (o, names->datas));
}

/* Reads the one key source of @o that @names name into @out (NULL: checked only). */
static gboolean
read_keys (Parse *p, const char *place, JsonObject *o, const KeyMembers *names, GPtrArray *out,
           GError **error)
{
  const char *s;
  JsonArray *a;

  if (!get_string (p, place, o, names->path, &s, error))
    return FALSE;
  if (s != NULL)
    {
      g_autofree char *where = member_place (place, names->path);
      return add_key_file (p, where, s, out, error);
    }
  if (!get_string (p, place, o, names->data, &s, error))
    return FALSE;
  if (s != NULL)
    {
      g_autofree char *where = member_place (place, names->data);
      return add_key_data (p, where, s, out, error);
    }
  if (!get_string_array (p, place, o, names->paths, &a, error))
    return FALSE;
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      g_autofree char *where = g_strdup_printf ("%s.%s[%u]", place, names->paths, i);
      if (!add_key_file (p, where, json_array_get_string_element (a, i), out, error))
        return FALSE;
    }
  if (a != NULL || names->datas == NULL)
    return TRUE;
  if (!get_string_array (p, place, o, names->datas, &a, error))
    return FALSE;
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      g_autofree char *where = g_strdup_printf ("%s.%s[%u]", place, names->datas, i);
      if (!add_key_data (p, where, json_array_get_string_element (a, i), out, error))
        return FALSE;
    }
  return TRUE;
}

static const char *const only_type[] = { "type", NULL };

/* A signedIdentity (or signedBaseLayer's baseLayerIdentity) object. */
static gboolean
parse_identity (Parse *p, const char *place, JsonNode *node, MvSignedIdentity *out, GError **error)
{
  static const char *const exact_reference[] = { "type", "dockerReference", NULL };
  static const char *const exact_repository[] = { "type", "dockerRepository", NULL };
  static const char *const remap_members[] = { "type", "prefix", "signedPrefix", NULL };
  JsonObject *o;
  const char *type;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return refuse (p, place, error, "not an object");
  o = json_node_get_object (node);
  if (!get_string (p, place, o, "type", &type, error))
    return FALSE;
  if (type == NULL)
    return refuse (p, place, error, "no \"type\"");

  if (g_str_equal (type, "matchRepoDigestOrExact") || g_str_equal (type, "matchExact")
      || g_str_equal (type, "matchRepository"))
    {
      if (!check_members (p, place, o, only_type, error))
        return FALSE;
      out->kind = g_str_equal (type, "matchExact")        ? MV_IDENTITY_MATCH_EXACT
                  : g_str_equal (type, "matchRepository") ? MV_IDENTITY_MATCH_REPOSITORY
                                                          : MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT;
      return TRUE;
    }
  if (g_str_equal (type, "exactReference") || g_str_equal (type, "exactRepository"))
    {
      gboolean is_ref = g_str_equal (type, "exactReference");
      const char *member = is_ref ? "dockerReference" : "dockerRepository";
      g_autofree char *where = member_place (place, member);
      g_autoptr (MvReference) ref = NULL;
      g_autoptr (GError) local_error = NULL;
      g_autofree char *shown = NULL;
      const char *s;

      if (!check_members (p, place, o, is_ref ? exact_reference : exact_repository, error)
          || !get_required_string (p, place, o, member, &s, error))
        return FALSE;
      shown = mv_escape_for_display (s, SHOWN_MAX);
      ref = mv_reference_parse (s, MV_REFERENCE_NO_DEFAULT_TAG, &local_error);
      if (ref == NULL)
        return refuse (p, where, error, "%s", local_error->message);
      if (is_ref)
        {
          if (ref->tag == NULL && ref->digest == NULL)
            return refuse (p, where, error, "'%s' has neither a tag nor a digest", shown);
          out->kind = MV_IDENTITY_EXACT_REFERENCE;
          out->docker_reference = mv_reference_to_string (ref);
        }
      else
        {
          if (ref->tag != NULL || ref->digest != NULL)
            return refuse (p, where, error, "'%s' is not a repository (it has a tag or digest)",
                           shown);
          out->kind = MV_IDENTITY_EXACT_REPOSITORY;
          out->docker_repository = mv_reference_repository (ref);
        }
      return TRUE;
    }
  if (g_str_equal (type, "remapIdentity"))
    {
      const char *prefix, *signed_prefix;

      if (!check_members (p, place, o, remap_members, error)
          || !get_required_string (p, place, o, "prefix", &prefix, error)
          || !get_required_string (p, place, o, "signedPrefix", &signed_prefix, error))
        return FALSE;
      for (int i = 0; i < 2; i++)
        {
          const char *s = i == 0 ? prefix : signed_prefix;
          g_autofree char *reason = NULL;
          if (!check_name (s, FALSE, &reason))
            {
              g_autofree char *where = member_place (place, i == 0 ? "prefix" : "signedPrefix");
              g_autofree char *shown = mv_escape_for_display (s, SHOWN_MAX);
              return refuse (p, where, error,
                             "'%s' is not a host[:port] or host[:port]/namespace: %s", shown,
                             reason);
            }
        }
      out->kind = MV_IDENTITY_REMAP_IDENTITY;
      out->prefix = g_strdup (prefix);
      out->signed_prefix = g_strdup (signed_prefix);
      return TRUE;
    }
  {
    g_autofree char *shown = mv_escape_for_display (type, SHOWN_MAX);
    return refuse (p, place, error, "unknown signedIdentity type \"%s\"", shown);
  }
}

/* signedIdentity, optional: matchRepoDigestOrExact when absent. */
static gboolean
parse_signed_identity (Parse *p, const char *place, JsonObject *o, MvSignedIdentity *out,
                       GError **error)
{
  JsonNode *n = json_object_get_member (o, "signedIdentity");
  g_autofree char *where = member_place (place, "signedIdentity");

  out->kind = MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT;
  if (n == NULL)
    return TRUE;
  return parse_identity (p, where, n, out, error);
}

/* All members string-valued; those in @b64 strict base64. */
static gboolean
check_string_members (Parse *p, const char *place, JsonObject *o, const char *const *b64,
                      GError **error)
{
  g_autoptr (GList) members = json_object_get_members (o);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *s;
      if (!get_string (p, place, o, l->data, &s, error))
        return FALSE;
      if (g_strv_contains (b64, l->data))
        {
          g_autofree char *where = member_place (place, l->data);
          if (!check_base64 (p, where, s, NULL, error))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
has_nonempty (JsonObject *o, const char *member)
{
  const char *s = mv_json_get_string (o, member);
  return s != NULL && *s != '\0';
}

/* sigstoreSigned's fulcio and pki: checked as containers/image does, then not used. */
static gboolean
check_keyless (Parse *p, const char *place, JsonNode *node, gboolean fulcio, GError **error)
{
  static const char *const fulcio_members[]
      = { "caPath", "caData", "oidcIssuer", "subjectEmail", NULL };
  static const char *const fulcio_b64[] = { "caData", NULL };
  static const char *const pki_members[] = {
    "caRootsPath",     "caRootsData", "caIntermediatesPath", "caIntermediatesData", "subjectEmail",
    "subjectHostname", NULL
  };
  static const char *const pki_b64[] = { "caRootsData", "caIntermediatesData", NULL };
  JsonObject *o;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return refuse (p, place, error, "not an object");
  o = json_node_get_object (node);
  if (!check_members (p, place, o, fulcio ? fulcio_members : pki_members, error)
      || !check_string_members (p, place, o, fulcio ? fulcio_b64 : pki_b64, error))
    return FALSE;
  if (fulcio)
    {
      if (has_nonempty (o, "caPath") == json_object_has_member (o, "caData"))
        return refuse (p, place, error, "exactly one of caPath and caData is needed");
      if (!has_nonempty (o, "oidcIssuer"))
        return refuse (p, place, error, "no oidcIssuer");
      if (!has_nonempty (o, "subjectEmail"))
        return refuse (p, place, error, "no subjectEmail");
      return TRUE;
    }
  if (has_nonempty (o, "caRootsPath") == json_object_has_member (o, "caRootsData"))
    return refuse (p, place, error, "exactly one of caRootsPath and caRootsData is needed");
  if (has_nonempty (o, "caIntermediatesPath") && json_object_has_member (o, "caIntermediatesData"))
    return refuse (p, place, error,
                   "caIntermediatesPath and caIntermediatesData cannot be used together");
  if (!has_nonempty (o, "subjectEmail") && !has_nonempty (o, "subjectHostname"))
    return refuse (p, place, error, "at least one of subjectEmail and subjectHostname is needed");
  return TRUE;
}

static gboolean
parse_signed_by (Parse *p, const char *place, JsonObject *o, MvPolicyRequirement *req,
                 GError **error)
{
  static const char *const members[]
      = { "type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity", NULL };
  static const char *const key_types[]
      = { "GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs", NULL };
  const char *key_type;
  guint sources;

  if (!check_members (p, place, o, members, error)
      || !get_string (p, place, o, "keyType", &key_type, error))
    return FALSE;
  if (key_type == NULL)
    return refuse (p, place, error, "no \"keyType\"");
  if (!g_strv_contains (key_types, key_type))
    {
      g_autofree char *where = member_place (place, "keyType");
      g_autofree char *shown = mv_escape_for_display (key_type, SHOWN_MAX);
      return refuse (p, where, error, "unknown keyType \"%s\"", shown);
    }
  sources = count_sources (o, &gpg_keys);
  if (sources != 1)
    return refuse (p, place, error, "exactly one of keyPath, keyPaths and keyData is needed (%s)",
                   sources == 0 ? "none is given" : "more than one is given");
  if (!read_keys (p, place, o, &gpg_keys, NULL, error)
      || !parse_signed_identity (p, place, o, &req->identity, error))
    return FALSE;
  req->kind = MV_POLICY_UNSUPPORTED;
  req->unsupported_why = g_strdup ("signedBy (GPG) signatures are not supported");
  return TRUE;
}

static gboolean
parse_sigstore_signed (Parse *p, const char *place, JsonObject *o, MvPolicyRequirement *req,
                       GError **error)
{
  static const char *const members[] = { "type",
                                         "keyPath",
                                         "keyPaths",
                                         "keyData",
                                         "keyDatas",
                                         "fulcio",
                                         "pki",
                                         "rekorPublicKeyPath",
                                         "rekorPublicKeyPaths",
                                         "rekorPublicKeyData",
                                         "rekorPublicKeyDatas",
                                         "signedIdentity",
                                         NULL };
  JsonNode *fulcio = json_object_get_member (o, "fulcio");
  JsonNode *pki = json_object_get_member (o, "pki");
  guint sources, rekor_sources;

  if (!check_members (p, place, o, members, error))
    return FALSE;
  sources = count_sources (o, &sigstore_keys) + (fulcio != NULL) + (pki != NULL);
  if (sources != 1)
    return refuse (p, place, error,
                   "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki is "
                   "needed (%s)",
                   sources == 0 ? "none is given" : "more than one is given");
  rekor_sources = count_sources (o, &rekor_keys);
  if (rekor_sources > 1)
    return refuse (p, place, error,
                   "at most one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData "
                   "and rekorPublicKeyDatas can be given");
  if (fulcio != NULL && rekor_sources == 0)
    return refuse (p, place, error, "fulcio needs a Rekor key (rekorPublicKeyPath ...)");
  if (pki != NULL && rekor_sources > 0)
    return refuse (p, place, error, "pki takes no Rekor key");
  if (!parse_signed_identity (p, place, o, &req->identity, error))
    return FALSE;
  if (fulcio != NULL || pki != NULL)
    {
      g_autofree char *where = member_place (place, fulcio != NULL ? "fulcio" : "pki");
      if (!check_keyless (p, where, fulcio != NULL ? fulcio : pki, fulcio != NULL, error)
          || !read_keys (p, place, o, &rekor_keys, NULL, error))
        return FALSE;
      req->kind = MV_POLICY_UNSUPPORTED;
      req->unsupported_why
          = g_strdup (fulcio != NULL ? "keyless (fulcio) signatures are not supported"
                                     : "pki (X.509 CA) signatures are not supported");
      return TRUE;
    }
  if (!read_keys (p, place, o, &sigstore_keys, req->keys, error)
      || !read_keys (p, place, o, &rekor_keys, req->rekor_keys, error))
    return FALSE;
  req->kind = MV_POLICY_SIGSTORE_SIGNED;
  return TRUE;
}

static MvPolicyRequirement *
parse_requirement (Parse *p, const char *place, JsonNode *node, GError **error)
{
  static const char *const base_layer[] = { "type", "baseLayerIdentity", NULL };
  g_autoptr (MvPolicyRequirement) req = NULL;
  JsonObject *o;
  const char *type;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      refuse (p, place, error, "not an object");
      return NULL;
    }
  o = json_node_get_object (node);
  if (!get_string (p, place, o, "type", &type, error))
    return NULL;
  if (type == NULL)
    {
      refuse (p, place, error, "no \"type\"");
      return NULL;
    }
  req = g_new0 (MvPolicyRequirement, 1);
  req->type = g_strdup (type);
  req->keys = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  req->rekor_keys = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  req->identity.kind = MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT;

  if (g_str_equal (type, "insecureAcceptAnything") || g_str_equal (type, "reject"))
    {
      if (!check_members (p, place, o, only_type, error))
        return NULL;
      req->kind = g_str_equal (type, "reject") ? MV_POLICY_REJECT : MV_POLICY_ACCEPT_ANYTHING;
    }
  else if (g_str_equal (type, "sigstoreSigned"))
    {
      if (!parse_sigstore_signed (p, place, o, req, error))
        return NULL;
    }
  else if (g_str_equal (type, "signedBy"))
    {
      if (!parse_signed_by (p, place, o, req, error))
        return NULL;
    }
  else if (g_str_equal (type, "signedBaseLayer"))
    {
      JsonNode *n = json_object_get_member (o, "baseLayerIdentity");
      g_autofree char *where = member_place (place, "baseLayerIdentity");
      MvSignedIdentity ignored = { 0 };
      gboolean ok;

      if (!check_members (p, place, o, base_layer, error))
        return NULL;
      if (n == NULL)
        {
          refuse (p, place, error, "no \"baseLayerIdentity\"");
          return NULL;
        }
      ok = parse_identity (p, where, n, &ignored, error);
      identity_clear (&ignored);
      if (!ok)
        return NULL;
      req->kind = MV_POLICY_UNSUPPORTED;
      req->unsupported_why = g_strdup ("signedBaseLayer requirements are not supported");
    }
  else
    {
      g_autofree char *shown = mv_escape_for_display (type, SHOWN_MAX);
      refuse (p, place, error, "unknown requirement type \"%s\"", shown);
      return NULL;
    }
  return g_steal_pointer (&req);
}

static GPtrArray *
parse_requirements (Parse *p, const char *place, JsonNode *node, GError **error)
{
  g_autoptr (GPtrArray) reqs = NULL;
  JsonArray *a;
  guint len;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      refuse (p, place, error, "not an array of requirements");
      return NULL;
    }
  a = json_node_get_array (node);
  len = json_array_get_length (a);
  if (len == 0)
    {
      refuse (p, place, error, "an empty list of requirements");
      return NULL;
    }
  reqs = g_ptr_array_new_with_free_func ((GDestroyNotify)requirement_free);
  for (guint i = 0; i < len; i++)
    {
      g_autofree char *where = g_strdup_printf ("%s[%u]", place, i);
      MvPolicyRequirement *req = parse_requirement (p, where, json_array_get_element (a, i), error);
      if (req == NULL)
        return NULL;
      g_ptr_array_add (reqs, req);
    }
  return g_steal_pointer (&reqs);
}

static gboolean
parse_transports (Parse *p, JsonNode *node, MvPolicy *policy, GError **error)
{
  g_autoptr (GList) transports = NULL;
  JsonObject *o;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return refuse (p, "transports", error, "not an object");
  o = json_node_get_object (node);
  transports = json_object_get_members (o);
  for (GList *t = transports; t != NULL; t = t->next)
    {
      const char *transport = t->data;
      JsonNode *tn = json_object_get_member (o, transport);
      g_autofree char *shown_transport = mv_escape_for_display (transport, SHOWN_MAX);
      g_autofree char *tplace = g_strdup_printf ("transports.%s", shown_transport);
      gboolean docker = g_str_equal (transport, "docker");
      g_autoptr (GList) scopes = NULL;
      JsonObject *to;

      if (!JSON_NODE_HOLDS_OBJECT (tn))
        return refuse (p, tplace, error, "not an object");
      to = json_node_get_object (tn);
      scopes = json_object_get_members (to);
      /* Other transports are checked, then forgotten: modelvol pulls docker references. */
      p->read_keys = docker;
      for (GList *s = scopes; s != NULL; s = s->next)
        {
          const char *scope = s->data;
          g_autofree char *shown_scope = mv_escape_for_display (scope, SHOWN_MAX);
          g_autofree char *splace = g_strdup_printf ("%s[\"%s\"]", tplace, shown_scope);
          g_autofree char *reason = NULL;
          GPtrArray *reqs;

          if (docker && *scope != '\0' && !check_scope (scope, &reason))
            return refuse (p, splace, error, "invalid scope: %s", reason);
          reqs = parse_requirements (p, splace, json_object_get_member (to, scope), error);
          if (reqs == NULL)
            return FALSE;
          if (docker)
            g_hash_table_insert (policy->docker, g_strdup (scope), reqs);
          else
            g_ptr_array_unref (reqs);
        }
    }
  p->read_keys = TRUE;
  return TRUE;
}

MvPolicy *
mv_policy_parse (const char *data, gsize len, const char *path, GError **error)
{
  static const char *const top[] = { "default", "transports", NULL };
  g_autofree char *shown = mv_escape_for_display (path, SHOWN_MAX);
  g_autofree char *what = g_strdup_printf ("policy '%s'", shown);
  const MvJsonRules rules = { .what = what,
                              .max_size = MV_POLICY_MAX,
                              .type = JSON_NODE_OBJECT,
                              .code = MV_ERROR_SIGNATURE,
                              .max_depth = MV_JSON_MAX_DEPTH };
  Parse p = { .shown = shown, .read_keys = TRUE };
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (MvPolicy) policy = NULL;
  JsonObject *o;
  JsonNode *n;

  root = mv_json_parse (data != NULL ? data : "", data != NULL ? len : 0, &rules, error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  if (!check_members (&p, NULL, o, top, error))
    return NULL;
  n = json_object_get_member (o, "default");
  if (n == NULL)
    {
      refuse (&p, NULL, error, "no \"default\" requirements");
      return NULL;
    }
  policy = g_new0 (MvPolicy, 1);
  policy->docker
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  policy->default_reqs = parse_requirements (&p, "default", n, error);
  if (policy->default_reqs == NULL)
    return NULL;
  n = json_object_get_member (o, "transports");
  if (n != NULL && !parse_transports (&p, n, policy, error))
    return NULL;
  return g_steal_pointer (&policy);
}

MvPolicy *
mv_policy_load (const char *path, GError **error)
{
  g_autofree char *shown = mv_escape_for_display (path, SHOWN_MAX);
  g_autoptr (GBytes) bytes = read_regular_file (AT_FDCWD, path, shown, MV_POLICY_MAX, error);
  gsize len = 0;
  const char *data;

  if (bytes == NULL)
    return NULL;
  data = g_bytes_get_data (bytes, &len);
  return mv_policy_parse (data, len, path, error);
}

GPtrArray *
mv_policy_lookup (MvPolicy *policy, const char *reference, const char **out_scope)
{
  g_autoptr (GPtrArray) scopes = scope_candidates (reference);
  gpointer key, value;

  for (guint i = 0; i < scopes->len; i++)
    if (g_hash_table_lookup_extended (policy->docker, scopes->pdata[i], &key, &value))
      {
        if (out_scope != NULL)
          *out_scope = key;
        return value;
      }
  if (g_hash_table_lookup_extended (policy->docker, "", &key, &value))
    {
      if (out_scope != NULL)
        *out_scope = key;
      return value;
    }
  if (out_scope != NULL)
    *out_scope = NULL;
  return policy->default_reqs;
}

/* signedIdentity */

static gboolean
refuse_identity (GError **error, const MvReference *signature, const MvReference *intended,
                 const char *why)
{
  g_autofree char *s = mv_reference_to_string (signature);
  g_autofree char *i = mv_reference_to_string (intended);
  g_autofree char *shown_s = mv_escape_for_display (s, SHOWN_MAX);
  g_autofree char *shown_i = mv_escape_for_display (i, SHOWN_MAX);

  return mv_throw (error, MV_ERROR_SIGNATURE, "the signature's identity %s does not match %s (%s)",
                   shown_s, shown_i, why);
}

static gboolean
name_only (const MvReference *ref)
{
  return ref->tag == NULL && ref->digest == NULL;
}

static gboolean
same_string (const MvReference *a, const MvReference *b)
{
  g_autofree char *sa = mv_reference_to_string (a);
  g_autofree char *sb = mv_reference_to_string (b);
  return strcmp (sa, sb) == 0;
}

static gboolean
same_repository (const MvReference *a, const MvReference *b)
{
  return strcmp (a->domain, b->domain) == 0 && strcmp (a->path, b->path) == 0;
}

/* matchRepoDigestOrExactReferenceValues */
static gboolean
match_repo_digest_or_exact (const MvReference *intended, const MvReference *signature,
                            const char *rule, GError **error)
{
  g_autofree char *why = NULL;

  if (name_only (signature))
    why = g_strdup_printf ("%s: the signature's identity has neither a tag nor a digest", rule);
  else if (intended->tag != NULL)
    {
      if (same_string (intended, signature))
        return TRUE;
      why = g_strdup_printf ("%s: a tag must match exactly", rule);
    }
  else if (intended->digest != NULL)
    {
      if (same_repository (intended, signature))
        return TRUE;
      why = g_strdup_printf ("%s: a pull by digest needs the same repository", rule);
    }
  else
    why = g_strdup_printf ("%s: the reference has neither a tag nor a digest", rule);
  return refuse_identity (error, signature, intended, why);
}

/* remapReferencePrefix: the name (not the tag or digest) is @prefix or under it at a "/". */
static gboolean
remap (const MvSignedIdentity *identity, const MvReference *intended, MvReference **out_ref,
       GError **error)
{
  g_autofree char *name = mv_reference_repository (intended);
  g_autofree char *full = NULL;
  g_autofree char *rewritten = NULL;
  g_autofree char *canonical = NULL;
  g_autoptr (MvReference) ref = NULL;
  gsize n = strlen (identity->prefix);

  *out_ref = NULL;
  if (strncmp (name, identity->prefix, n) != 0 || (name[n] != '\0' && name[n] != '/'))
    return TRUE;
  full = mv_reference_to_string (intended);
  rewritten = g_strconcat (identity->signed_prefix, full + n, NULL);
  ref = mv_reference_parse (rewritten, MV_REFERENCE_NO_DEFAULT_TAG, NULL);
  if (ref != NULL)
    canonical = mv_reference_to_string (ref);
  if (ref == NULL || strcmp (canonical, rewritten) != 0)
    {
      g_autofree char *shown_full = mv_escape_for_display (full, SHOWN_MAX);
      g_autofree char *shown = mv_escape_for_display (rewritten, SHOWN_MAX);
      return mv_throw (error, MV_ERROR_SIGNATURE,
                       "remapIdentity rewrites %s to %s, which is not a normalized reference",
                       shown_full, shown);
    }
  *out_ref = g_steal_pointer (&ref);
  return TRUE;
}

gboolean
mv_policy_identity_matches (const MvSignedIdentity *identity, const char *reference,
                            const char *signed_reference, GError **error)
{
  g_autoptr (MvReference) intended = NULL;
  g_autoptr (MvReference) signature = NULL;
  g_autoptr (MvReference) wanted = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (identity != NULL && reference != NULL && signed_reference != NULL, FALSE);

  intended = mv_reference_parse (reference, MV_REFERENCE_NO_DEFAULT_TAG, &local_error);
  if (intended == NULL)
    return mv_throw (error, MV_ERROR_SIGNATURE, "the reference pulled: %s", local_error->message);
  signature = mv_reference_parse (signed_reference, MV_REFERENCE_NO_DEFAULT_TAG, &local_error);
  if (signature == NULL)
    return mv_throw (error, MV_ERROR_SIGNATURE, "the signature's identity: %s",
                     local_error->message);

  switch (identity->kind)
    {
      case MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT:
        return match_repo_digest_or_exact (intended, signature, "matchRepoDigestOrExact", error);
      case MV_IDENTITY_MATCH_EXACT:
        if (name_only (intended) || name_only (signature))
          return refuse_identity (error, signature, intended,
                                  "matchExact: both need a tag or a digest");
        if (!same_string (intended, signature))
          return refuse_identity (error, signature, intended,
                                  "matchExact: the references must be the same");
        return TRUE;
      case MV_IDENTITY_MATCH_REPOSITORY:
        if (!same_repository (intended, signature))
          return refuse_identity (error, signature, intended,
                                  "matchRepository: the repositories must be the same");
        return TRUE;
      case MV_IDENTITY_EXACT_REFERENCE:
        {
          g_autoptr (MvReference) exact
              = mv_reference_parse (identity->docker_reference, MV_REFERENCE_NO_DEFAULT_TAG, error);
          if (exact == NULL)
            return FALSE;
          if (name_only (exact) || name_only (signature))
            return refuse_identity (error, signature, exact,
                                    "exactReference: both need a tag or a digest");
          if (!same_string (exact, signature))
            return refuse_identity (error, signature, exact,
                                    "exactReference: the references must be the same");
          return TRUE;
        }
      case MV_IDENTITY_EXACT_REPOSITORY:
        {
          g_autoptr (MvReference) exact = mv_reference_parse (identity->docker_repository,
                                                              MV_REFERENCE_NO_DEFAULT_TAG, error);
          if (exact == NULL)
            return FALSE;
          if (!same_repository (exact, signature))
            return refuse_identity (error, signature, exact,
                                    "exactRepository: the repositories must be the same");
          return TRUE;
        }
      case MV_IDENTITY_REMAP_IDENTITY:
        if (!remap (identity, intended, &wanted, error))
          return FALSE;
        return match_repo_digest_or_exact (wanted != NULL ? wanted : intended, signature,
                                           wanted != NULL
                                               ? "remapIdentity, then matchRepoDigestOrExact"
                                               : "remapIdentity (the prefix does not apply), "
                                                 "matchRepoDigestOrExact",
                                           error);
    }
  return mv_throw (error, MV_ERROR_SIGNATURE, "unknown signedIdentity kind %d",
                   (int)identity->kind);
}

/* Keys */

char *
mv_policy_key_fingerprint (GBytes *pem)
{
  static const char begin_mark[] = "-----BEGIN ";
  const gsize begin_len = sizeof begin_mark - 1;
  g_autoptr (GChecksum) sha = NULL;
  g_autoptr (GString) body = NULL;
  g_autoptr (GBytes) der = NULL;
  g_autofree char *end_mark = NULL;
  const char *data, *end, *begin, *label, *label_end, *body_end;
  gsize len = 0;

  if (pem == NULL)
    return NULL;
  data = g_bytes_get_data (pem, &len);
  if (data == NULL || len == 0)
    return NULL;
  end = data + len;
  begin = memmem (data, len, begin_mark, begin_len);
  if (begin == NULL)
    return NULL;
  label = begin + begin_len;
  label_end = memmem (label, end - label, "-----", 5);
  if (label_end == NULL || memchr (label, '\n', label_end - label) != NULL)
    return NULL;
  end_mark = g_strdup_printf ("-----END %.*s-----", (int)(label_end - label), label);
  body_end = memmem (label_end + 5, end - (label_end + 5), end_mark, strlen (end_mark));
  if (body_end == NULL)
    return NULL;
  body = g_string_new (NULL);
  for (const char *q = label_end + 5; q < body_end; q++)
    if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
      g_string_append_c (body, *q);
  der = mv_base64_decode_strict (body->str, body->len);
  if (der == NULL || g_bytes_get_size (der) == 0)
    return NULL;
  sha = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sha, g_bytes_get_data (der, NULL), g_bytes_get_size (der));
  return g_strconcat ("SHA256:", g_checksum_get_string (sha), NULL);
}

/* registries.d */

typedef struct
{
  char *file; /* escaped, for messages */
  int use;    /* -1: not set; 0 or 1 */
} RdNamespace;

static void
rd_namespace_free (RdNamespace *ns)
{
  g_free (ns->file);
  g_free (ns);
}

typedef struct
{
  RdNamespace *default_docker; /* nullable */
  GHashTable *docker;          /* scope -> RdNamespace */
} RegistriesD;

static void
registries_d_clear (RegistriesD *rd)
{
  g_clear_pointer (&rd->default_docker, rd_namespace_free);
  g_clear_pointer (&rd->docker, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RegistriesD, registries_d_clear)

static void
registries_d_init (RegistriesD *rd)
{
  rd->default_docker = NULL;
  rd->docker
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)rd_namespace_free);
}

/* A YAML document as a tree (libyaml's own loader resolves aliases, which we refuse). */
typedef struct YNode YNode;
struct YNode
{
  yaml_node_type_t type; /* scalar, sequence or mapping */
  char *value;           /* scalar */
  char *tag;             /* nullable */
  gboolean plain;        /* a plain scalar */
  gsize line;            /* 1-based */
  GPtrArray *children;   /* sequence: items; mapping: key, value, key, value ... */
};

static void
ynode_free (YNode *n)
{
  if (n == NULL)
    return;
  g_free (n->value);
  g_free (n->tag);
  g_clear_pointer (&n->children, g_ptr_array_unref);
  g_free (n);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (YNode, ynode_free)

typedef struct
{
  yaml_parser_t parser;
  const char *shown; /* the file */
} Yaml;

static gboolean yaml_refuse (const char *shown, gsize line, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

static gboolean
yaml_refuse (const char *shown, gsize line, GError **error, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (line == 0)
    return mv_throw (error, MV_ERROR_SIGNATURE, "registries.d '%s': %s", shown, msg);
  return mv_throw (error, MV_ERROR_SIGNATURE, "registries.d '%s': line %" G_GSIZE_FORMAT ": %s",
                   shown, line, msg);
}

static gboolean
yaml_next (Yaml *y, yaml_event_t *ev, GError **error)
{
  if (!yaml_parser_parse (&y->parser, ev))
    {
      g_autofree char *problem
          = mv_escape_for_display (y->parser.problem ? y->parser.problem : "invalid YAML", 200);
      return yaml_refuse (y->shown, y->parser.problem_mark.line + 1, error, "%s", problem);
    }
  return TRUE;
}

/* The node whose first event is @ev, and the events of its content. */
static YNode *
yaml_read_node (Yaml *y, yaml_event_t *ev, guint depth, GError **error)
{
  g_autoptr (YNode) node = g_new0 (YNode, 1);
  const yaml_char_t *anchor = NULL;
  const yaml_char_t *tag = NULL;
  yaml_event_type_t end_type;

  node->line = ev->start_mark.line + 1;
  switch (ev->type)
    {
      case YAML_ALIAS_EVENT:
        yaml_refuse (y->shown, node->line, error, "YAML aliases are not accepted");
        return NULL;
      case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor != NULL)
          {
            yaml_refuse (y->shown, node->line, error, "YAML anchors are not accepted");
            return NULL;
          }
        if (memchr (ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL)
          {
            yaml_refuse (y->shown, node->line, error, "a NUL character in a scalar");
            return NULL;
          }
        node->type = YAML_SCALAR_NODE;
        node->value = g_strndup ((const char *)ev->data.scalar.value, ev->data.scalar.length);
        node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        node->tag = g_strdup ((const char *)ev->data.scalar.tag);
        return g_steal_pointer (&node);
      case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        node->type = YAML_SEQUENCE_NODE;
        end_type = YAML_SEQUENCE_END_EVENT;
        break;
      case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        node->type = YAML_MAPPING_NODE;
        end_type = YAML_MAPPING_END_EVENT;
        break;
      default:
        yaml_refuse (y->shown, node->line, error, "unexpected YAML event");
        return NULL;
    }
  if (anchor != NULL)
    {
      yaml_refuse (y->shown, node->line, error, "YAML anchors are not accepted");
      return NULL;
    }
  if (depth >= YAML_DEPTH_MAX)
    {
      yaml_refuse (y->shown, node->line, error, "nested deeper than %d", YAML_DEPTH_MAX);
      return NULL;
    }
  node->tag = g_strdup ((const char *)tag);
  node->children = g_ptr_array_new_with_free_func ((GDestroyNotify)ynode_free);
  for (;;)
    {
      g_auto (yaml_event_t) child_ev = { 0 };
      YNode *child;

      if (!yaml_next (y, &child_ev, error))
        return NULL;
      if (child_ev.type == end_type)
        break;
      child = yaml_read_node (y, &child_ev, depth + 1, error);
      if (child == NULL)
        return NULL;
      g_ptr_array_add (node->children, child);
    }
  return g_steal_pointer (&node);
}

/* The first document of the stream (NULL and no error: an empty stream); a second one is
 * refused rather than silently ignored. */
static gboolean
yaml_read_document (Yaml *y, YNode **out_root, GError **error)
{
  g_autoptr (YNode) root = NULL;
  gboolean done = FALSE;

  *out_root = NULL;
  while (!done)
    {
      g_auto (yaml_event_t) ev = { 0 };

      if (!yaml_next (y, &ev, error))
        return FALSE;
      switch (ev.type)
        {
          case YAML_STREAM_START_EVENT:
          case YAML_DOCUMENT_END_EVENT:
            break;
          case YAML_DOCUMENT_START_EVENT:
            if (root != NULL)
              return yaml_refuse (y->shown, ev.start_mark.line + 1, error,
                                  "more than one YAML document");
            break;
          case YAML_STREAM_END_EVENT:
            done = TRUE;
            break;
          default:
            root = yaml_read_node (y, &ev, 0, error);
            if (root == NULL)
              return FALSE;
            break;
        }
    }
  *out_root = g_steal_pointer (&root);
  return TRUE;
}

static gboolean
ynode_is_null (const YNode *n)
{
  static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };

  if (n->type != YAML_SCALAR_NODE)
    return FALSE;
  if (n->tag != NULL)
    return g_str_equal (n->tag, YAML_NULL_TAG);
  return n->plain && g_strv_contains (nulls, n->value);
}

/* Mapping keys: scalars, each once (yaml.v3 refuses a key defined twice). */
static gboolean
check_mapping_keys (const char *shown, const YNode *map, const char *place, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i + 1 < map->children->len; i += 2)
    {
      const YNode *key = map->children->pdata[i];
      if (key->type != YAML_SCALAR_NODE)
        return yaml_refuse (shown, key->line, error, "%s: a mapping key that is not a scalar",
                            place);
      if (!g_hash_table_add (seen, key->value))
        {
          g_autofree char *k = mv_escape_for_display (key->value, SHOWN_MAX);
          return yaml_refuse (shown, key->line, error, "%s: key \"%s\" is defined twice", place, k);
        }
    }
  return TRUE;
}

/* One namespace (registryNamespace): use-sigstore-attachments read, the lookaside URLs only
 * type-checked, other keys ignored (yaml.Unmarshal ignores them). */
static gboolean
read_namespace (const char *shown, const YNode *n, const char *place, int *out_use, GError **error)
{
  static const char *const strings[]
      = { "lookaside", "lookaside-staging", "sigstore", "sigstore-staging", NULL };
  static const char *const trues[] = { "true", "True", "TRUE", NULL };
  static const char *const falses[] = { "false", "False", "FALSE", NULL };

  *out_use = -1;
  if (ynode_is_null (n))
    return TRUE;
  if (n->type != YAML_MAPPING_NODE)
    return yaml_refuse (shown, n->line, error, "%s: not a mapping", place);
  if (!check_mapping_keys (shown, n, place, error))
    return FALSE;
  for (guint i = 0; i + 1 < n->children->len; i += 2)
    {
      const YNode *key = n->children->pdata[i];
      const YNode *value = n->children->pdata[i + 1];

      if (g_strv_contains (strings, key->value))
        {
          if (value->type != YAML_SCALAR_NODE)
            return yaml_refuse (shown, value->line, error, "%s.%s: not a string", place,
                                key->value);
        }
      else if (g_str_equal (key->value, "use-sigstore-attachments"))
        {
          gboolean typed_ok;

          if (ynode_is_null (value))
            {
              *out_use = -1;
              continue;
            }
          /* A plain true/false, or one tagged !!bool; "yes" and quoted strings are refused. */
          typed_ok
              = value->type == YAML_SCALAR_NODE
                && (value->tag != NULL ? g_str_equal (value->tag, YAML_BOOL_TAG) : value->plain);
          if (typed_ok && g_strv_contains (trues, value->value))
            *out_use = 1;
          else if (typed_ok && g_strv_contains (falses, value->value))
            *out_use = 0;
          else
            {
              g_autofree char *v = value->type == YAML_SCALAR_NODE
                                       ? mv_escape_for_display (value->value, SHOWN_MAX)
                                       : g_strdup ("a collection");
              return yaml_refuse (shown, value->line, error,
                                  "%s.use-sigstore-attachments: not a boolean (true or false): "
                                  "\"%s\"",
                                  place, v);
            }
        }
    }
  return TRUE;
}

static gboolean
merge_namespace (RegistriesD *rd, const char *shown, const char *scope, int use, GError **error)
{
  RdNamespace *ns;
  RdNamespace *old = scope != NULL ? g_hash_table_lookup (rd->docker, scope) : rd->default_docker;

  if (old != NULL)
    {
      if (scope == NULL)
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "registries.d: \"default-docker\" is defined both in '%s' and '%s'",
                         old->file, shown);
      {
        g_autofree char *s = mv_escape_for_display (scope, SHOWN_MAX);
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "registries.d: \"docker\" namespace \"%s\" is defined both in '%s' and "
                         "'%s'",
                         s, old->file, shown);
      }
    }
  ns = g_new0 (RdNamespace, 1);
  ns->file = g_strdup (shown);
  ns->use = use;
  if (scope == NULL)
    rd->default_docker = ns;
  else
    g_hash_table_insert (rd->docker, g_strdup (scope), ns);
  return TRUE;
}

/* One file: its top-level default-docker and docker, merged into @rd. */
static gboolean
registries_d_parse_file (RegistriesD *rd, const char *data, gsize len, const char *shown,
                         GError **error)
{
  Yaml y = { .shown = shown };
  g_autoptr (YNode) root = NULL;
  gboolean ok;

  if (len > MV_REGISTRIES_D_FILE_MAX)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                     "registries.d '%s': %" G_GSIZE_FORMAT " bytes, above the limit of %d bytes",
                     shown, len, MV_REGISTRIES_D_FILE_MAX);
  if (!yaml_parser_initialize (&y.parser))
    return mv_throw (error, MV_ERROR_FAILED, "registries.d '%s': out of memory", shown);
  yaml_parser_set_input_string (&y.parser, (const unsigned char *)(data != NULL ? data : ""),
                                data != NULL ? len : 0);
  ok = yaml_read_document (&y, &root, error);
  yaml_parser_delete (&y.parser);
  if (!ok)
    return FALSE;
  if (root == NULL || ynode_is_null (root))
    return TRUE;
  if (root->type != YAML_MAPPING_NODE)
    return yaml_refuse (shown, root->line, error, "the top level is not a mapping");
  if (!check_mapping_keys (shown, root, "the top level", error))
    return FALSE;
  for (guint i = 0; i + 1 < root->children->len; i += 2)
    {
      const YNode *key = root->children->pdata[i];
      const YNode *value = root->children->pdata[i + 1];

      if (g_str_equal (key->value, "default-docker"))
        {
          int use;
          /* yaml.v3 leaves a null *registryNamespace nil: not defined. */
          if (ynode_is_null (value))
            continue;
          if (!read_namespace (shown, value, "default-docker", &use, error)
              || !merge_namespace (rd, shown, NULL, use, error))
            return FALSE;
        }
      else if (g_str_equal (key->value, "docker"))
        {
          if (ynode_is_null (value))
            continue;
          if (value->type != YAML_MAPPING_NODE)
            return yaml_refuse (shown, value->line, error, "docker: not a mapping");
          if (!check_mapping_keys (shown, value, "docker", error))
            return FALSE;
          for (guint j = 0; j + 1 < value->children->len; j += 2)
            {
              const YNode *scope = value->children->pdata[j];
              g_autofree char *s = mv_escape_for_display (scope->value, SHOWN_MAX);
              g_autofree char *place = g_strdup_printf ("docker[\"%s\"]", s);
              g_autofree char *reason = NULL;
              int use;

              if (*scope->value != '\0' && !check_scope (scope->value, &reason))
                return yaml_refuse (shown, scope->line, error, "%s: invalid scope: %s", place,
                                    reason);
              if (!read_namespace (shown, value->children->pdata[j + 1], place, &use, error)
                  || !merge_namespace (rd, shown, scope->value, use, error))
                return FALSE;
            }
        }
    }
  return TRUE;
}

gboolean
mv_registries_d_parse_for_fuzzing (const char *data, gsize len, GError **error)
{
  g_auto (RegistriesD) rd = { 0 };

  registries_d_init (&rd);
  return registries_d_parse_file (&rd, data, len, "/fuzz/registries.d/fuzz.yaml", error);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static gboolean
registries_d_load (RegistriesD *rd, const char *dir, gboolean *out_missing, GError **error)
{
  g_autofree char *shown_dir = mv_escape_for_display (dir, SHOWN_MAX);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (DIR) d = NULL;
  mv_autofd int dfd = -1;
  int dup_fd;
  struct dirent *de;

  *out_missing = FALSE;
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 && errno == ENOENT)
    {
      *out_missing = TRUE;
      return TRUE;
    }
  if (dfd < 0)
    return mv_throw_errno_prefix (error, "registries.d '%s'", shown_dir);
  dup_fd = fcntl (dfd, F_DUPFD_CLOEXEC, 3);
  if (dup_fd < 0 || (d = fdopendir (dup_fd)) == NULL)
    {
      if (dup_fd >= 0)
        close (dup_fd);
      return mv_throw_errno_prefix (error, "registries.d '%s'", shown_dir);
    }
  for (;;)
    {
      errno = 0;
      de = readdir (d);
      if (de == NULL)
        {
          if (errno != 0)
            return mv_throw_errno_prefix (error, "reading registries.d '%s'", shown_dir);
          break;
        }
      if (!g_str_has_suffix (de->d_name, ".yaml"))
        continue;
      if (names->len == MV_REGISTRIES_D_FILES_MAX)
        return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                         "registries.d '%s': more than %d .yaml files", shown_dir,
                         MV_REGISTRIES_D_FILES_MAX);
      g_ptr_array_add (names, g_strdup (de->d_name));
    }
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autofree char *shown = mv_escape_for_display (path, SHOWN_MAX);
      g_autoptr (GError) local_error = NULL;
      g_autoptr (GBytes) bytes = NULL;
      const char *data;
      gsize len = 0;

      bytes
          = read_regular_file (dfd, names->pdata[i], shown, MV_REGISTRIES_D_FILE_MAX, &local_error);
      if (bytes == NULL)
        {
          /* Removed since the listing: as containers/image, not an error. */
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
            continue;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return mv_prefix_error (error, "registries.d");
        }
      data = g_bytes_get_data (bytes, &len);
      if (!registries_d_parse_file (rd, data, len, shown, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
mv_registries_d_use_sigstore_attachments (const char *dir, const char *reference, gboolean *out_use,
                                          char **out_source, GError **error)
{
  g_auto (RegistriesD) rd = { 0 };
  g_autoptr (GPtrArray) scopes = NULL;
  gboolean missing = FALSE;

  registries_d_init (&rd);
  if (!registries_d_load (&rd, dir, &missing, error))
    return FALSE;
  /* useSigstoreAttachments(): the most specific namespace that sets it, then default-docker. */
  scopes = scope_candidates (reference);
  for (guint i = 0; i < scopes->len; i++)
    {
      RdNamespace *ns = g_hash_table_lookup (rd.docker, scopes->pdata[i]);
      if (ns != NULL && ns->use >= 0)
        {
          *out_use = ns->use == 1;
          if (out_source != NULL)
            {
              g_autofree char *s = mv_escape_for_display (scopes->pdata[i], SHOWN_MAX);
              *out_source = g_strdup_printf ("%s docker[\"%s\"]", ns->file, s);
            }
          return TRUE;
        }
    }
  if (rd.default_docker != NULL && rd.default_docker->use >= 0)
    {
      *out_use = rd.default_docker->use == 1;
      if (out_source != NULL)
        *out_source = g_strdup_printf ("%s default-docker", rd.default_docker->file);
      return TRUE;
    }
  *out_use = FALSE;
  if (out_source != NULL)
    *out_source = NULL;
  return TRUE;
}
