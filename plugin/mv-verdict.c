/* mv-verdict: a pull's signature verdict, kept with the model, and its check against the
 * policy in force now. See mv-verdict-private.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "mv-error-private.h"
#include "mv-json-private.h"
#include "mv-path-private.h"
#include "mv-verdict-private.h"

#define VERDICT_VERSION 1
#define VERDICT_MAX (1024 * 1024)

MvVerdict *
mv_verdict_new (void)
{
  MvVerdict *v = g_new0 (MvVerdict, 1);
  v->requirements = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_verdict_requirement_free);
  return v;
}

void
mv_verdict_requirement_free (MvVerdictRequirement *r)
{
  if (r == NULL)
    return;
  g_free (r->type);
  g_free (r->format);
  g_free (r->key);
  g_free (r->signed_identity);
  g_free (r->rekor_key);
  g_free (r->where);
  g_free (r);
}

void
mv_verdict_free (MvVerdict *v)
{
  if (v == NULL)
    return;
  g_free (v->reference);
  g_free (v->signed_digest);
  g_free (v->policy);
  g_free (v->scope);
  g_free (v->reason);
  g_ptr_array_unref (v->requirements);
  g_free (v);
}

static void
add_string (JsonBuilder *b, const char *key, const char *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value);
}

GBytes *
mv_verdict_to_json (const MvVerdict *v)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  gsize len = 0;
  char *text;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, VERDICT_VERSION);
  add_string (b, "reference", v->reference);
  add_string (b, "signed-digest", v->signed_digest);
  add_string (b, "policy", v->policy);
  add_string (b, "scope", v->scope);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, v->audit ? "audit" : "enforce");
  json_builder_set_member_name (b, "accepted");
  json_builder_add_boolean_value (b, v->accepted);
  add_string (b, "reason", v->reason);
  json_builder_set_member_name (b, "verified-at");
  json_builder_add_int_value (b, v->verified_at);
  json_builder_set_member_name (b, "requirements");
  json_builder_begin_array (b);
  for (guint i = 0; i < v->requirements->len; i++)
    {
      const MvVerdictRequirement *r = v->requirements->pdata[i];
      json_builder_begin_object (b);
      add_string (b, "type", r->type);
      add_string (b, "format", r->format);
      add_string (b, "key", r->key);
      add_string (b, "signed-identity", r->signed_identity);
      add_string (b, "rekor-key", r->rekor_key);
      if (r->integrated_time >= 0)
        {
          json_builder_set_member_name (b, "integrated-time");
          json_builder_add_int_value (b, r->integrated_time);
        }
      add_string (b, "where", r->where);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  return g_bytes_new_take (text, len);
}

static char *
dup_member (JsonObject *o, const char *key)
{
  return g_strdup (mv_json_get_string (o, key));
}

MvVerdict *
mv_verdict_parse (GBytes *json, GError **error)
{
  const MvJsonRules rules = { .what = "signature verdict",
                              .max_size = VERDICT_MAX,
                              .type = JSON_NODE_OBJECT,
                              .code = MV_ERROR_CORRUPTED,
                              .max_depth = 8 };
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (MvVerdict) v = mv_verdict_new ();
  JsonObject *o;
  JsonArray *reqs;
  const char *mode;

  root = mv_json_parse (g_bytes_get_data (json, NULL), g_bytes_get_size (json), &rules, error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  if (!json_object_has_member (o, "version")
      || json_node_get_value_type (json_object_get_member (o, "version")) != G_TYPE_INT64
      || json_object_get_int_member (o, "version") != VERDICT_VERSION)
    {
      mv_throw (error, MV_ERROR_CORRUPTED, "signature verdict: not version %d", VERDICT_VERSION);
      return NULL;
    }
  v->reference = dup_member (o, "reference");
  v->signed_digest = dup_member (o, "signed-digest");
  v->policy = dup_member (o, "policy");
  v->scope = dup_member (o, "scope");
  v->reason = dup_member (o, "reason");
  mode = mv_json_get_string (o, "mode");
  v->audit = g_strcmp0 (mode, "audit") == 0;
  {
    JsonNode *n = json_object_get_member (o, "accepted");
    v->accepted
        = n != NULL && json_node_get_value_type (n) == G_TYPE_BOOLEAN && json_node_get_boolean (n);
  }
  {
    JsonNode *n = json_object_get_member (o, "verified-at");
    if (n != NULL && json_node_get_value_type (n) == G_TYPE_INT64)
      v->verified_at = json_node_get_int (n);
  }
  reqs = mv_json_get_array (o, "requirements");
  for (guint i = 0; reqs != NULL && i < json_array_get_length (reqs); i++)
    {
      JsonNode *n = json_array_get_element (reqs, i);
      JsonObject *ro = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      MvVerdictRequirement *r;
      JsonNode *t;

      if (ro == NULL)
        continue;
      r = g_new0 (MvVerdictRequirement, 1);
      r->type = dup_member (ro, "type");
      r->format = dup_member (ro, "format");
      r->key = dup_member (ro, "key");
      r->signed_identity = dup_member (ro, "signed-identity");
      r->rekor_key = dup_member (ro, "rekor-key");
      r->where = dup_member (ro, "where");
      t = json_object_get_member (ro, "integrated-time");
      r->integrated_time
          = t != NULL && json_node_get_value_type (t) == G_TYPE_INT64 ? json_node_get_int (t) : -1;
      g_ptr_array_add (v->requirements, r);
    }
  return g_steal_pointer (&v);
}

gboolean
mv_verdict_identity_matches (const MvSignedIdentity *identity, const char *reference,
                             const char *signed_reference, GError **error)
{
  if (signed_reference != NULL)
    return mv_policy_identity_matches (identity, reference, signed_reference, error);
  if (identity->kind == MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT && strchr (reference, '@') != NULL)
    return TRUE;
  return mv_throw (error, MV_ERROR_SIGNATURE,
                   "the signature names no reference (a sigstore bundle signs the digest only): "
                   "it is accepted only for a pull by digest under matchRepoDigestOrExact");
}

/* The fingerprints of a requirement's keys (GBytes PEM). */
static gboolean
key_listed (GPtrArray *pems, const char *fingerprint)
{
  for (guint i = 0; fingerprint != NULL && i < pems->len; i++)
    {
      g_autofree char *fp = mv_policy_key_fingerprint (pems->pdata[i]);
      if (g_strcmp0 (fp, fingerprint) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Does one stored sigstoreSigned record meet @req for @reference now? */
static gboolean
record_meets (const MvVerdictRequirement *r, const MvPolicyRequirement *req, const char *reference,
              GError **error)
{
  if (!key_listed (req->keys, r->key))
    return mv_throw (error, MV_ERROR_SIGNATURE,
                     "it was verified with key %s, which the policy does not name now", r->key);
  if (req->rekor_keys->len > 0 && !key_listed (req->rekor_keys, r->rekor_key))
    return mv_throw (error, MV_ERROR_SIGNATURE,
                     r->rekor_key ? "its Rekor SET was signed by key %s, not a Rekor key the "
                                    "policy names now"
                                  : "the policy now needs a Rekor SET, and none was checked%s",
                     r->rekor_key ? r->rekor_key : "");
  return mv_verdict_identity_matches (&req->identity, reference, r->signed_identity, error);
}

gboolean
mv_verdict_satisfies (const MvVerdict *verdict, MvPolicy *policy, const char *policy_path,
                      const char *reference, GError **error)
{
  const char *scope = NULL;
  GPtrArray *reqs = mv_policy_lookup (policy, reference, &scope);
  g_autofree char *shown = mv_escape_for_display (reference, 300);
  g_autofree char *shown_scope = mv_escape_for_display (scope ? scope : "default", 300);

  for (guint i = 0; i < reqs->len; i++)
    {
      const MvPolicyRequirement *req = reqs->pdata[i];
      g_autoptr (GError) last = NULL;
      gboolean met = FALSE;

      switch (req->kind)
        {
          case MV_POLICY_ACCEPT_ANYTHING:
            continue;
          case MV_POLICY_REJECT:
            return mv_throw (error, MV_ERROR_SIGNATURE, "%s: policy %s (scope %s) rejects it",
                             shown, policy_path, shown_scope);
          case MV_POLICY_UNSUPPORTED:
            return mv_throw (error, MV_ERROR_SIGNATURE, "%s: policy %s (scope %s): %s", shown,
                             policy_path, shown_scope, req->unsupported_why);
          case MV_POLICY_SIGSTORE_SIGNED:
            break;
        }
      if (verdict == NULL)
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "%s: policy %s (scope %s) needs a signature, and the stored model has no "
                         "verified one (imported, or pulled before the policy asked): pull it "
                         "again",
                         shown, policy_path, shown_scope);
      if (!verdict->accepted)
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "%s: policy %s (scope %s) needs a signature, and the model's pull was "
                         "only audited: %s",
                         shown, policy_path, shown_scope,
                         verdict->reason ? verdict->reason : "it did not verify");
      for (guint j = 0; j < verdict->requirements->len && !met; j++)
        {
          const MvVerdictRequirement *r = verdict->requirements->pdata[j];
          if (g_strcmp0 (r->type, "sigstoreSigned") != 0)
            continue;
          g_clear_error (&last);
          met = record_meets (r, req, reference, &last);
        }
      if (!met)
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "%s: policy %s (scope %s) needs a signature the stored verdict does not "
                         "give: %s",
                         shown, policy_path, shown_scope,
                         last ? last->message : "no signature was verified when it was pulled");
    }
  return TRUE;
}

char *
mv_verdict_describe (const MvVerdict *v)
{
  GString *s = g_string_new (NULL);

  if (!v->accepted)
    g_string_append_printf (s, "audit: would be refused: %s", v->reason ? v->reason : "?");
  else
    g_string_append (s, "accepted:");
  for (guint i = 0; v->accepted && i < v->requirements->len; i++)
    {
      const MvVerdictRequirement *r = v->requirements->pdata[i];
      g_string_append_printf (s, "%s %s", i ? "," : "", r->type ? r->type : "?");
      if (r->key != NULL)
        {
          g_string_append_printf (s, " (%s, key %s", r->format ? r->format : "?", r->key);
          if (r->signed_identity != NULL)
            g_string_append_printf (s, ", identity %s", r->signed_identity);
          if (r->rekor_key != NULL)
            g_string_append_printf (s, ", Rekor key %s", r->rekor_key);
          g_string_append_c (s, ')');
        }
    }
  if (v->accepted && v->requirements->len == 0)
    g_string_append (s, " no requirement");
  g_string_append_printf (s, "; scope %s of %s", v->scope ? v->scope : "?",
                          v->policy ? v->policy : "?");
  return g_string_free (s, FALSE);
}
