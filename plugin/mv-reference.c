/* mv-reference: image references host[:port]/path[:tag][@digest].
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "mv-digest-private.h"
#include "mv-error-private.h"
#include "mv-path-private.h"
#include "mv-reference-private.h"

/* The grammar and the normalization are those of distribution/reference (docker CLI,
 * containers/image): reference.go's regexps and normalize.go's splitDockerDomain. */

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_REPO_PREFIX "library/"
#define NAME_TOTAL_LENGTH_MAX 255
#define TAG_LENGTH_MAX 128
/* Longer than any valid reference (name, tag and a sha512 digest); bounds all the work. */
#define REFERENCE_LENGTH_MAX 1024

void
mv_reference_free (MvReference *ref)
{
  if (ref == NULL)
    return;
  g_free (ref->domain);
  g_free (ref->path);
  g_free (ref->tag);
  g_free (ref->digest);
  g_free (ref);
}

static gboolean
is_lower_alnum (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* domain-component: [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static gboolean
domain_component_ok (const char *p, gsize n)
{
  if (n == 0 || !g_ascii_isalnum (p[0]) || !g_ascii_isalnum (p[n - 1]))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (p[i]) && p[i] != '-')
      return FALSE;
  return TRUE;
}

/* domain: (domain-name | "[" IPv6 "]") [":" port] */
const char *
mv_reference_check_domain (const char *domain)
{
  const char *host_end;
  const char *port = NULL;

  if (*domain == '\0')
    return "empty registry host";

  if (domain[0] == '[')
    {
      const char *close = strchr (domain, ']');
      char addr[INET6_ADDRSTRLEN + 1];
      unsigned char buf[sizeof (struct in6_addr)];
      gsize n;

      if (close == NULL)
        return "unterminated '[' in the registry host";
      n = close - domain - 1;
      if (n == 0 || n >= sizeof addr)
        return "invalid IPv6 address in the registry host";
      memcpy (addr, domain + 1, n);
      addr[n] = '\0';
      if (inet_pton (AF_INET6, addr, buf) != 1)
        return "invalid IPv6 address in the registry host";
      host_end = close + 1;
      if (*host_end != '\0' && *host_end != ':')
        return "unexpected characters after the IPv6 address";
    }
  else
    {
      const char *p = domain;
      host_end = domain + strcspn (domain, ":");
      while (p < host_end)
        {
          const char *dot = memchr (p, '.', host_end - p);
          const char *comp_end = dot != NULL ? dot : host_end;
          if (!domain_component_ok (p, comp_end - p))
            return "invalid registry host name";
          p = dot != NULL ? dot + 1 : host_end;
          if (dot != NULL && p == host_end)
            return "invalid registry host name";
        }
    }
  if (*host_end == ':')
    {
      guint64 v = 0;
      port = host_end + 1;
      if (*port == '\0')
        return "empty registry port";
      for (const char *p = port; *p != '\0'; p++)
        {
          if (!g_ascii_isdigit (*p))
            return "the registry port must be a number";
          v = v * 10 + (*p - '0');
          if (v > 65535)
            return "the registry port is above 65535";
        }
    }
  return NULL;
}

/* path-component: [a-z0-9]+ (([._]|__|[-]+) [a-z0-9]+)*, components joined by "/". */
static const char *
check_path (const char *path)
{
  const char *p = path;

  for (;;)
    {
      if (!is_lower_alnum (*p))
        {
          if (*p == '\0' || *p == '/')
            return "empty path component in the repository name";
          if (g_ascii_isupper (*p))
            return "repository name must be lowercase";
          return "invalid character in the repository name";
        }
      while (is_lower_alnum (*p))
        p++;
      if (*p == '\0')
        return NULL;
      if (*p == '/')
        {
          p++;
          continue;
        }
      /* A separator between alphanumerics. */
      if (*p == '.')
        p++;
      else if (*p == '_')
        p += p[1] == '_' ? 2 : 1;
      else if (*p == '-')
        while (*p == '-')
          p++;
      else if (g_ascii_isupper (*p))
        return "repository name must be lowercase";
      else
        return "invalid character in the repository name";
      if (!is_lower_alnum (*p))
        return "a separator in the repository name must be followed by a letter or digit";
    }
}

/* tag: [\w][\w.-]{0,127} */
static const char *
check_tag (const char *tag)
{
  gsize n = strlen (tag);

  if (n == 0)
    return "empty tag";
  if (n > TAG_LENGTH_MAX)
    return "tag is longer than 128 characters";
  if (!g_ascii_isalnum (tag[0]) && tag[0] != '_')
    return "tag must start with a letter, digit or '_'";
  for (gsize i = 1; i < n; i++)
    if (!g_ascii_isalnum (tag[i]) && tag[i] != '_' && tag[i] != '.' && tag[i] != '-')
      return "invalid character in the tag";
  return NULL;
}

static gboolean
is_hex64 (const char *s)
{
  if (strlen (s) != 64)
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static MvReference *
fail (GError **error, const char *input, const char *reason)
{
  g_autofree char *shown = mv_escape_for_display (input, 300);
  mv_throw (error, MV_ERROR_INVALID_REFERENCE, "invalid reference '%s': %s", shown, reason);
  return NULL;
}

MvReference *
mv_reference_parse (const char *s, MvReferenceFlags flags, GError **error)
{
  g_autoptr (MvReference) ref = NULL;
  g_autofree char *name = NULL;
  g_autoptr (GError) digest_error = NULL;
  const char *at;
  const char *last_slash;
  const char *colon;
  const char *first_slash;
  const char *reason;

  if (s == NULL || *s == '\0')
    return fail (error, s != NULL ? s : "", "empty reference");
  if (strlen (s) > REFERENCE_LENGTH_MAX)
    return fail (error, s, "too long");
  for (const char *p = s; *p != '\0'; p++)
    if ((guchar)*p <= 0x20 || (guchar)*p >= 0x7f)
      return fail (error, s, "contains a space, a control or a non-ASCII character");
  /* As docker's ParseNormalizedNamed: a bare image id is not a name. */
  if (is_hex64 (s))
    return fail (error, s, "a 64-hex-digit string is an image id, not a repository name");

  ref = g_new0 (MvReference, 1);

  at = strchr (s, '@');
  if (at != NULL)
    {
      if (!mv_digest_validate (at + 1, NULL, NULL, &digest_error))
        return fail (error, s, digest_error->message);
      ref->digest = g_strdup (at + 1);
      name = g_strndup (s, at - s);
    }
  else
    name = g_strdup (s);

  /* The tag is after the last ':' that follows the last '/' (a ':' before it is a port). */
  last_slash = strrchr (name, '/');
  colon = strrchr (last_slash != NULL ? last_slash : name, ':');
  if (colon != NULL)
    {
      if ((reason = check_tag (colon + 1)) != NULL)
        return fail (error, s, reason);
      ref->tag = g_strdup (colon + 1);
      name[colon - name] = '\0';
    }
  if (*name == '\0')
    return fail (error, s, "empty repository name");

  /* splitDockerDomain: the first component is a registry when it has a '.' or a ':', is
   * "localhost", or has an uppercase letter (which no repository path may have). */
  first_slash = strchr (name, '/');
  if (first_slash != NULL)
    {
      g_autofree char *first = g_strndup (name, first_slash - name);
      g_autofree char *lower = g_ascii_strdown (first, -1);
      if (strpbrk (first, ".:") != NULL || g_str_equal (first, "localhost")
          || !g_str_equal (first, lower))
        {
          ref->domain = g_steal_pointer (&first);
          ref->path = g_strdup (first_slash + 1);
        }
    }
  if (ref->domain == NULL)
    {
      ref->domain = g_strdup (DEFAULT_DOMAIN);
      ref->path = g_strdup (name);
    }
  if ((reason = mv_reference_check_domain (ref->domain)) != NULL)
    return fail (error, s, reason);
  if (g_str_equal (ref->domain, LEGACY_DEFAULT_DOMAIN))
    {
      g_free (ref->domain);
      ref->domain = g_strdup (DEFAULT_DOMAIN);
    }
  if ((reason = check_path (ref->path)) != NULL)
    return fail (error, s, reason);
  if (g_str_equal (ref->domain, DEFAULT_DOMAIN) && strchr (ref->path, '/') == NULL)
    {
      char *p = g_strconcat (OFFICIAL_REPO_PREFIX, ref->path, NULL);
      g_free (ref->path);
      ref->path = p;
    }
  /* As in distribution/reference, the limit applies to the normalized name
   * (with "docker.io/library/"). */
  if (strlen (ref->domain) + 1 + strlen (ref->path) > NAME_TOTAL_LENGTH_MAX)
    return fail (error, s, "the repository name is longer than 255 characters");

  if (ref->tag == NULL && ref->digest == NULL && !(flags & MV_REFERENCE_NO_DEFAULT_TAG))
    ref->tag = g_strdup ("latest");
  return g_steal_pointer (&ref);
}

char *
mv_reference_to_string (const MvReference *ref)
{
  GString *out;

  g_return_val_if_fail (ref != NULL, NULL);

  out = g_string_new (ref->domain);
  g_string_append_c (out, '/');
  g_string_append (out, ref->path);
  if (ref->tag != NULL)
    g_string_append_printf (out, ":%s", ref->tag);
  if (ref->digest != NULL)
    g_string_append_printf (out, "@%s", ref->digest);
  return g_string_free (out, FALSE);
}

char *
mv_reference_repository (const MvReference *ref)
{
  g_return_val_if_fail (ref != NULL, NULL);
  return g_strconcat (ref->domain, "/", ref->path, NULL);
}
