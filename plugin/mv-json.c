/* mv-json: strict JSON from outside, then json-glib's tree. Used by the model (manifests,
 * configs, tokens, layouts) and by the hook (the OCI state, config.json, annotations).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "mv-error-private.h"
#include "mv-json-private.h"

typedef struct
{
  const char *data;
  gsize len;
  gsize pos;
  const char *what;
  MvError code;       /* for every refusal */
  guint max_depth;    /* <= MV_JSON_DEPTH_LIMIT */
  gboolean wide_ints; /* integers beyond gint64 pass */
  gboolean want_array;
} Scanner;

typedef struct
{
  gboolean is_object;
  GHashTable *keys; /* objects only: the decoded keys seen so far */
} Frame;

typedef struct
{
  Frame frames[MV_JSON_DEPTH_LIMIT];
  guint depth;
} FrameStack;

static gboolean
scan_fail (Scanner *s, GError **error, const char *reason)
{
  /* "not a JSON array" where an array is wanted: a caller's word for what it takes. */
  return mv_throw (error, s->code, "%s is not %s: %s at byte %" G_GSIZE_FORMAT, s->what,
                   s->want_array ? "a JSON array" : "valid JSON", reason, s->pos);
}

static void
scan_skip_ws (Scanner *s)
{
  while (s->pos < s->len)
    {
      char c = s->data[s->pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        break;
      s->pos++;
    }
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static gboolean
scan_hex4 (Scanner *s, gunichar *out, GError **error)
{
  gunichar v = 0;

  *out = 0; /* set on every path: the analyzer cannot see that scan_fail() returns FALSE */
  if (s->len - s->pos < 4)
    return scan_fail (s, error, "truncated \\u escape");
  for (int i = 0; i < 4; i++)
    {
      int h = hex_value (s->data[s->pos + i]);
      if (h < 0)
        return scan_fail (s, error, "bad \\u escape");
      v = v * 16 + h;
    }
  s->pos += 4;
  *out = v;
  return TRUE;
}

/* At the opening quote. Appends the decoded string to @out when it is not NULL. The whole
 * document is already known to be valid UTF-8. */
static gboolean
scan_string (Scanner *s, GString *out, GError **error)
{
  s->pos++;
  for (;;)
    {
      guchar c;

      if (s->pos >= s->len)
        return scan_fail (s, error, "unterminated string");
      c = s->data[s->pos];
      if (c == '"')
        {
          s->pos++;
          return TRUE;
        }
      if (c < 0x20)
        return scan_fail (s, error, "control character in a string");
      if (c != '\\')
        {
          if (out != NULL)
            g_string_append_c (out, c);
          s->pos++;
          continue;
        }
      s->pos++;
      if (s->pos >= s->len)
        return scan_fail (s, error, "unterminated string");
      c = s->data[s->pos++];
      switch (c)
        {
          case '"':
          case '\\':
          case '/':
            break;
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          case 'n':
            c = '\n';
            break;
          case 'r':
            c = '\r';
            break;
          case 't':
            c = '\t';
            break;
          case 'u':
            {
              gunichar u;
              if (!scan_hex4 (s, &u, error))
                return FALSE;
              if (u == 0)
                return scan_fail (s, error, "an escaped NUL (\\u0000) in a string");
              if (u >= 0xdc00 && u <= 0xdfff)
                return scan_fail (s, error, "unpaired surrogate escape");
              if (u >= 0xd800 && u <= 0xdbff)
                {
                  gunichar lo;
                  if (s->len - s->pos < 2 || s->data[s->pos] != '\\' || s->data[s->pos + 1] != 'u')
                    return scan_fail (s, error, "unpaired surrogate escape");
                  s->pos += 2;
                  if (!scan_hex4 (s, &lo, error))
                    return FALSE;
                  if (lo < 0xdc00 || lo > 0xdfff)
                    return scan_fail (s, error, "unpaired surrogate escape");
                  u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                }
              if (out != NULL)
                g_string_append_unichar (out, u);
              continue;
            }
          default:
            return scan_fail (s, error, "bad escape in a string");
        }
      if (out != NULL)
        g_string_append_c (out, c);
    }
}

static gboolean
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

/* RFC 8259 numbers; integers (no fraction, no exponent) must fit in gint64, because
 * json-glib stores them there and would silently wrap (unless s->wide_ints). */
static gboolean
scan_number (Scanner *s, GError **error)
{
  gsize start = s->pos;
  gboolean integer = TRUE;

  if (s->data[s->pos] == '-')
    s->pos++;
  if (s->pos >= s->len || !is_digit (s->data[s->pos]))
    return scan_fail (s, error, "bad number");
  if (s->data[s->pos] == '0')
    s->pos++;
  else
    while (s->pos < s->len && is_digit (s->data[s->pos]))
      s->pos++;
  if (s->pos < s->len && s->data[s->pos] == '.')
    {
      integer = FALSE;
      s->pos++;
      if (s->pos >= s->len || !is_digit (s->data[s->pos]))
        return scan_fail (s, error, "bad number");
      while (s->pos < s->len && is_digit (s->data[s->pos]))
        s->pos++;
    }
  if (s->pos < s->len && (s->data[s->pos] == 'e' || s->data[s->pos] == 'E'))
    {
      integer = FALSE;
      s->pos++;
      if (s->pos < s->len && (s->data[s->pos] == '+' || s->data[s->pos] == '-'))
        s->pos++;
      if (s->pos >= s->len || !is_digit (s->data[s->pos]))
        return scan_fail (s, error, "bad number");
      while (s->pos < s->len && is_digit (s->data[s->pos]))
        s->pos++;
    }
  if (integer && !s->wide_ints)
    {
      gsize n = s->pos - start;
      char buf[24];
      char *end = NULL;

      if (n >= sizeof buf)
        return scan_fail (s, error, "integer out of range");
      memcpy (buf, s->data + start, n);
      buf[n] = '\0';
      errno = 0;
      (void)g_ascii_strtoll (buf, &end, 10);
      if (errno != 0 || end != buf + n)
        return scan_fail (s, error, "integer out of range");
    }
  return TRUE;
}

static gboolean
scan_literal (Scanner *s, const char *word, GError **error)
{
  gsize n = strlen (word);

  if (s->len - s->pos < n || memcmp (s->data + s->pos, word, n) != 0)
    return scan_fail (s, error, "unexpected character");
  s->pos += n;
  return TRUE;
}

typedef enum
{
  EXPECT_VALUE,
  EXPECT_VALUE_OR_END, /* after '[' */
  EXPECT_KEY,          /* after ',' in an object */
  EXPECT_KEY_OR_END,   /* after '{' */
  EXPECT_COLON,
  AFTER_VALUE,
} ScanState;

/* One pass over the document with an explicit stack: no recursion, bounded depth. The caller
 * frees the key tables of frames still open when this fails. */
static gboolean
scan_document (Scanner *s, FrameStack *st, GError **error)
{
  ScanState state = EXPECT_VALUE;

  for (;;)
    {
      char c;

      scan_skip_ws (s);
      if (state == AFTER_VALUE && st->depth == 0)
        {
          if (s->pos != s->len)
            return scan_fail (s, error, "data after the top-level value");
          return TRUE;
        }
      if (s->pos >= s->len)
        return scan_fail (s, error,
                          state == EXPECT_VALUE && st->depth == 0 ? "empty document"
                                                                  : "unexpected end");
      c = s->data[s->pos];

      switch (state)
        {
          case EXPECT_VALUE_OR_END:
            if (c == ']')
              {
                s->pos++;
                st->depth--;
                state = AFTER_VALUE;
                break;
              }
            G_GNUC_FALLTHROUGH;
          case EXPECT_VALUE:
            if (c == '{' || c == '[')
              {
                if (st->depth == s->max_depth)
                  return scan_fail (s, error, "nesting too deep");
                st->frames[st->depth].is_object = c == '{';
                st->frames[st->depth].keys
                    = c == '{' ? g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL)
                               : NULL;
                st->depth++;
                s->pos++;
                state = c == '{' ? EXPECT_KEY_OR_END : EXPECT_VALUE_OR_END;
              }
            else
              {
                if (c == '"')
                  {
                    if (!scan_string (s, NULL, error))
                      return FALSE;
                  }
                else if (c == '-' || is_digit (c))
                  {
                    if (!scan_number (s, error))
                      return FALSE;
                  }
                else if (!scan_literal (s, c == 't' ? "true" : c == 'f' ? "false" : "null", error))
                  return FALSE;
                state = AFTER_VALUE;
              }
            break;
          case EXPECT_KEY_OR_END:
            if (c == '}')
              {
                s->pos++;
                st->depth--;
                g_clear_pointer (&st->frames[st->depth].keys, g_hash_table_unref);
                state = AFTER_VALUE;
                break;
              }
            G_GNUC_FALLTHROUGH;
          case EXPECT_KEY:
            {
              g_autoptr (GString) key = g_string_new (NULL);
              gsize key_pos = s->pos;
              if (c != '"')
                return scan_fail (s, error, "expected a member name");
              if (!scan_string (s, key, error))
                return FALSE;
              if (!g_hash_table_add (st->frames[st->depth - 1].keys,
                                     g_string_free (g_steal_pointer (&key), FALSE)))
                {
                  s->pos = key_pos;
                  return scan_fail (s, error, "duplicate member name");
                }
              state = EXPECT_COLON;
            }
            break;
          case EXPECT_COLON:
            if (c != ':')
              return scan_fail (s, error, "expected ':'");
            s->pos++;
            state = EXPECT_VALUE;
            break;
          case AFTER_VALUE:
            {
              Frame *top = &st->frames[st->depth - 1];
              if (c == ',')
                {
                  s->pos++;
                  state = top->is_object ? EXPECT_KEY : EXPECT_VALUE;
                }
              else if (c == (top->is_object ? '}' : ']'))
                {
                  s->pos++;
                  g_clear_pointer (&top->keys, g_hash_table_unref);
                  st->depth--;
                  state = AFTER_VALUE;
                }
              else
                return scan_fail (s, error,
                                  top->is_object ? "expected ',' or '}'" : "expected ',' or ']'");
            }
            break;
          default:
            g_assert_not_reached ();
        }
    }
}

static gboolean
json_check_strict (Scanner *s, GError **error)
{
  FrameStack st = { 0 };
  gboolean ok = scan_document (s, &st, error);

  while (st.depth > 0)
    {
      st.depth--;
      g_clear_pointer (&st.frames[st.depth].keys, g_hash_table_unref);
    }
  return ok;
}

JsonNode *
mv_json_parse (const char *data, gsize len, const MvJsonRules *rules, GError **error)
{
  Scanner s = { .data = data,
                .len = len,
                .what = rules->what,
                .code = rules->code,
                .max_depth = MIN (rules->max_depth != 0 ? rules->max_depth : MV_JSON_DEPTH_LIMIT,
                                  MV_JSON_DEPTH_LIMIT),
                .wide_ints = rules->wide_ints,
                .want_array = rules->type == JSON_NODE_ARRAY };
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local_error = NULL;
  JsonNode *root;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len > rules->max_size)
    {
      mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                "%s is %" G_GSIZE_FORMAT " bytes, above the limit of %" G_GSIZE_FORMAT " bytes",
                rules->what, len, rules->max_size);
      return NULL;
    }
  if (!g_utf8_validate (data, len, NULL))
    {
      mv_throw (error, rules->code, "%s is not valid UTF-8 (or contains a NUL byte)", rules->what);
      return NULL;
    }
  if (!json_check_strict (&s, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, len > 0 ? data : "", len, &local_error))
    {
      mv_throw (error, rules->code, "%s is not valid JSON: %s", rules->what, local_error->message);
      return NULL;
    }
  root = json_parser_steal_root (parser);
  if (root == NULL || json_node_get_node_type (root) != rules->type)
    {
      g_clear_pointer (&root, json_node_unref);
      mv_throw (error, rules->code, "%s is not a JSON %s", rules->what,
                rules->type == JSON_NODE_ARRAY ? "array" : "object");
      return NULL;
    }
  return root;
}

JsonNode *
mv_json_parse_object (const char *data, gsize len, gsize max_size, const char *what, GError **error)
{
  const MvJsonRules rules = { .what = what,
                              .max_size = max_size,
                              .type = JSON_NODE_OBJECT,
                              .code = MV_ERROR_INVALID_MANIFEST,
                              .max_depth = MV_JSON_MAX_DEPTH };
  return mv_json_parse (data, len, &rules, error);
}

JsonObject *
mv_json_get_object (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

JsonArray *
mv_json_get_array (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;
  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

const char *
mv_json_get_string (JsonObject *o, const char *member)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, member) : NULL;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}
