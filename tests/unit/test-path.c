/* Unit tests of storage/mv-path: the one validator for tar names, link targets and annotation
 * paths (SECURITY-BAR items 12, 13, 21, 24), and mv_escape_for_display (item 40).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-path-private.h"

static char *
repeat (const char *unit, guint n, const char *sep)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append (s, sep);
      g_string_append (s, unit);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
assert_message_clean (const GError *error)
{
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  for (const char *p = error->message; *p != '\0'; p++)
    g_assert_cmpint ((guchar)*p, >=, 0x20);
}

static void
assert_ok (const char *path, MvPathFlags flags, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;

  g_test_message ("accept '%s' flags %d", path, flags);
  g_assert_true (mv_path_normalize (path, flags, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, expected);
}

static void
assert_bad (const char *path, MvPathFlags flags, const char *reason)
{
  g_autoptr (GError) error = NULL;
  char *out = (char *)"untouched";

  g_test_message ("refuse flags %d, expecting '%s'", flags, reason);
  g_assert_false (mv_path_normalize (path, flags, &out, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_UNSAFE_PATH);
  g_assert_cmpstr (out, ==, "untouched");
  assert_message_clean (error);
  if (reason != NULL && strstr (error->message, reason) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, reason);
}

static void
test_normalize_good (void)
{
  g_autofree char *c255 = repeat ("x", 255, "");
  g_autofree char *deep256 = repeat ("d", 256, "/");
  g_autofree char *long4096 = NULL;

  assert_ok ("a", MV_PATH_NONE, "a");
  assert_ok ("model.safetensors", MV_PATH_NONE, "model.safetensors");
  assert_ok ("dir/sub/file.bin", MV_PATH_NONE, "dir/sub/file.bin");
  assert_ok (".hidden", MV_PATH_NONE, ".hidden");
  assert_ok ("a/.b", MV_PATH_NONE, "a/.b");
  assert_ok ("...", MV_PATH_NONE, "...");
  assert_ok ("..a", MV_PATH_NONE, "..a");
  assert_ok ("a..", MV_PATH_NONE, "a..");
  assert_ok ("a b/c\\d", MV_PATH_NONE, "a b/c\\d");
  assert_ok ("modèle/权重.bin", MV_PATH_NONE, "modèle/权重.bin");
  assert_ok (c255, MV_PATH_NONE, c255);
  assert_ok (deep256, MV_PATH_NONE, deep256);

  /* Exactly MV_PATH_MAX bytes: 20 components of 200, then one of 76. */
  {
    g_autofree char *c200 = repeat ("y", 200, "");
    g_autofree char *body = repeat (c200, 20, "/");
    g_autofree char *last = repeat ("z", 76, "");
    long4096 = g_strconcat (body, "/", last, NULL);
  }
  g_assert_cmpuint (strlen (long4096), ==, MV_PATH_MAX);
  assert_ok (long4096, MV_PATH_NONE, long4096);

  /* Tar names: one leading "./" and one trailing "/" go. */
  assert_ok ("./a", MV_PATH_TAR_MEMBER, "a");
  assert_ok ("a/", MV_PATH_TAR_MEMBER, "a");
  assert_ok ("./a/b/", MV_PATH_TAR_MEMBER, "a/b");
  assert_ok ("a/b", MV_PATH_TAR_MEMBER, "a/b");
}

/* SECURITY-BAR item 12 (tar names) and 24 (raw filepath annotations): the same validator. */
static void
test_normalize_bad (void)
{
  g_autofree char *c256 = repeat ("x", 256, "");
  g_autofree char *deep257 = repeat ("d", 257, "/");
  g_autofree char *long_path = repeat ("abcdefg", 600, "/");
  g_autofree char *long4097 = NULL;
  g_autofree char *in_c256 = g_strconcat ("dir/", c256, "/f", NULL);
  const MvPathFlags both[] = { MV_PATH_NONE, MV_PATH_TAR_MEMBER };

  {
    g_autofree char *c200 = repeat ("y", 200, "");
    g_autofree char *body = repeat (c200, 20, "/");
    g_autofree char *last = repeat ("z", 77, "");
    long4097 = g_strconcat (body, "/", last, NULL);
    g_assert_cmpuint (strlen (long4097), ==, MV_PATH_MAX + 1);
  }

  for (gsize f = 0; f < G_N_ELEMENTS (both); f++)
    {
      MvPathFlags flags = both[f];

      assert_bad ("../x", flags, "path '../x' escapes the model root");
      assert_bad (".wh.x", flags, "is a whiteout");
      assert_bad ("a/.wh..wh..opq", flags, "is a whiteout");
      assert_bad (".wh..", flags, "is a whiteout");
      assert_bad ("..", flags, "escapes the model root");
      assert_bad ("../../etc/cron.d/x", flags, "escapes the model root");
      assert_bad ("a/../../x", flags, "escapes the model root");
      assert_bad ("a/b/../../../x", flags, "escapes the model root");
      assert_bad ("/abs", flags, "is absolute");
      assert_bad ("/", flags, "is absolute");
      assert_bad ("//x", flags, "is absolute");
      assert_bad ("/etc/passwd", flags, "is absolute");
      assert_bad ("", flags, "empty path");
      assert_bad (".", flags, "model root");
      assert_bad ("a/..", flags, "'..'");
      assert_bad ("a/../b", flags, "not normalized");
      assert_bad ("a/./b", flags, "'.' component");
      assert_bad ("a/.", flags, "'.' component");
      assert_bad ("a//b", flags, "empty component");
      assert_bad ("a/b//", flags, "empty component");
      assert_bad (c256, flags, "longer than 255");
      assert_bad (in_c256, flags, "longer than 255");
      assert_bad (deep257, flags, "more than 256 levels");
      assert_bad (long_path, flags, "longer than 4096");
      assert_bad (long4097, flags, "longer than 4096");

      /* Control characters: every C0 byte but NUL (which a C string cannot hold; the tar
       * reader refuses a PAX path with a NUL before it becomes a C string), DEL, C1. */
      for (int c = 1; c < 0x20; c++)
        {
          char p[8];
          g_snprintf (p, sizeof p, "a%cb", c);
          assert_bad (p, flags, "control character");
        }
      assert_bad ("a\x7f"
                  "b",
                  flags, "control character");
      assert_bad ("a\xc2\x85"
                  "b",
                  flags, "control character");
      assert_bad ("a\xc2\x9b"
                  "31m",
                  flags, "control character");
      assert_bad ("evil\x1b[2J", flags, "\\x1b[2J");
      assert_bad ("new\nline", flags, "new\\x0aline");

      /* Not UTF-8. */
      assert_bad ("\xff", flags, "UTF-8");
      assert_bad ("a/\xc3(", flags, "UTF-8");
      assert_bad ("\xc0\xaf", flags, "UTF-8");           /* overlong "/" */
      assert_bad ("\xed\xa0\x80", flags, "UTF-8");       /* a surrogate */
      assert_bad ("a\xe2\x82", flags, "UTF-8");          /* truncated */
      assert_bad ("\xc0\xae\xc0\xae/x", flags, "UTF-8"); /* overlong ".." */
    }

  /* Without the tar flag, "./" and a trailing "/" are not normalized forms. */
  assert_bad ("./a", MV_PATH_NONE, "'.' component");
  assert_bad ("a/", MV_PATH_NONE, "empty component");

  /* With it, only one of each goes. */
  assert_bad ("./", MV_PATH_TAR_MEMBER, "model root");
  assert_bad ("./.", MV_PATH_TAR_MEMBER, "model root");
  assert_bad ("././a", MV_PATH_TAR_MEMBER, "'.' component");
  assert_bad ("./../x", MV_PATH_TAR_MEMBER, "escapes the model root");
  assert_bad (".//x", MV_PATH_TAR_MEMBER, "empty component");
  assert_bad ("a//", MV_PATH_TAR_MEMBER, "empty component");
  assert_bad ("./..", MV_PATH_TAR_MEMBER, "escapes the model root");
}

static void
assert_link_ok (const char *link, const char *target)
{
  g_autoptr (GError) error = NULL;

  g_test_message ("link %s -> %s: keep", link, target);
  g_assert_true (mv_path_check_link_target (link, target, &error));
  g_assert_no_error (error);
}

static void
assert_link_bad (const char *link, const char *target, const char *reason)
{
  g_autoptr (GError) error = NULL;

  g_test_message ("link %s: refuse, expecting '%s'", link, reason);
  g_assert_false (mv_path_check_link_target (link, target, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_UNSAFE_PATH);
  assert_message_clean (error);
  if (reason != NULL && strstr (error->message, reason) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, reason);
}

/* SECURITY-BAR item 13: relative links that stay inside the tree are kept, all others go. */
static void
test_link_targets (void)
{
  g_autofree char *c256 = repeat ("x", 256, "");
  g_autofree char *link256 = repeat ("d", 256, "/"); /* its directory is 255 deep */
  g_autofree char *up255 = repeat ("..", 255, "/");
  g_autofree char *up256 = repeat ("..", 256, "/");
  g_autofree char *up257 = repeat ("..", 257, "/");

  /* Kept. */
  assert_link_ok ("l", "x");
  assert_link_ok ("l", "dir/file");
  assert_link_ok ("a/l", "../sibling");
  assert_link_ok ("a/l", "..");
  assert_link_ok ("a/l", "../b/c");
  assert_link_ok ("a/b/c/l", "../../../x");
  assert_link_ok ("a/b/l", "../../top/file");
  assert_link_ok ("a/l", "model-00001-of-00002.safetensors");
  assert_link_ok ("a/l", "..hidden");

  /* Absolute, whatever it names (containerd TestBreakouts, CVE-2021-29136's "/."). */
  assert_link_bad ("l", "/etc", "is absolute");
  assert_link_bad ("a/l", "/etc/passwd", "is absolute");
  assert_link_bad ("l", "/", "is absolute");
  assert_link_bad ("l", "/.", "is absolute");
  assert_link_bad ("a/b/l", "//etc", "is absolute");

  /* Up too far. */
  assert_link_bad ("l", "..", "escapes the model root");
  assert_link_bad ("l", "../x", "escapes the model root");
  assert_link_bad ("l", "../sibling", "escapes the model root");
  assert_link_bad ("a/l", "../..", "escapes the model root");
  assert_link_bad ("a/l", "../../x", "escapes the model root");
  assert_link_bad ("a/b/c/l", "../../../../x", "escapes the model root");
  assert_link_bad ("a/b/l", "../../../../../../../../etc", "escapes the model root");

  /* Not of the form "../"*k then normal components. */
  assert_link_bad ("a/l", "a/../b", "'..' after a normal component");
  assert_link_bad ("a/b/l", "x/../../..", "'..' after a normal component");
  assert_link_bad ("a/b/l", "../x/../..", "'..' after a normal component");
  assert_link_bad ("a/l", "./x", "'.' component");
  assert_link_bad ("a/l", ".", "'.' component");
  assert_link_bad ("a/l", "../.", "'.' component");
  assert_link_bad ("a/l", "x/", "empty component");
  assert_link_bad ("a/l", "x//y", "empty component");
  assert_link_bad ("a/l", "", "empty symlink target");
  assert_link_bad ("a/l", NULL, "empty symlink target");
  assert_link_bad ("a/l", c256, "longer than 255");
  assert_link_bad ("a/l", "x\x1b[0m", "\\x1b[0m");
  assert_link_bad ("a/l", "x\ty", "control character");
  assert_link_bad ("a/l", "\xff", "UTF-8");

  /* Depth bounds: up to the root from the deepest link is kept, one more is not. */
  assert_link_ok (link256, up255);
  assert_link_bad (link256, up256, "escapes the model root");
  assert_link_bad (link256, up257, "more than 256 levels");
}

static void
assert_escape (const char *in, gsize max, const char *expected)
{
  g_autofree char *out = mv_escape_for_display (in, max);
  g_assert_cmpstr (out, ==, expected);
}

/* SECURITY-BAR item 40: terminal escapes in names never reach a terminal. */
static void
test_escape (void)
{
  assert_escape ("plain text", 100, "plain text");
  assert_escape ("modèle 权重", 100, "modèle 权重");
  assert_escape ("\x1b[31mred\x1b[0m", 100, "\\x1b[31mred\\x1b[0m");
  assert_escape ("a\nb\rc\td", 100, "a\\x0ab\\x0dc\\x09d");
  assert_escape ("del\x7f", 100, "del\\x7f");
  assert_escape ("c1 \xc2\x9b"
                 "31m",
                 100, "c1 \\xc2\\x9b31m");
  assert_escape ("bad \xff\xfe utf8", 100, "bad \\xff\\xfe utf8");
  assert_escape ("trunc \xe2\x82", 100, "trunc \\xe2\\x82");
  assert_escape ("back\\slash", 100, "back\\\\slash");
  /* Bidi override (Trojan Source) and zero-width space. */
  assert_escape ("a\xe2\x80\xae"
                 "b",
                 100, "a\\xe2\\x80\\xaeb");
  assert_escape ("a\xe2\x80\x8b"
                 "b",
                 100, "a\\xe2\\x80\\x8bb");
  assert_escape ("", 100, "");
  assert_escape (NULL, 100, "(null)");
  /* Truncation at a character boundary, marked; 0 is no limit. */
  assert_escape ("abcdefghij", 5, "abcde...");
  assert_escape ("abcdefghij", 10, "abcdefghij");
  assert_escape ("abc\x1b"
                 "def",
                 5, "abc...");
  assert_escape ("ééé", 3, "é...");
  assert_escape ("abcdefghij", 0, "abcdefghij");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/path/normalize/good", test_normalize_good);
  g_test_add_func ("/path/normalize/bad", test_normalize_bad);
  g_test_add_func ("/path/link-targets", test_link_targets);
  g_test_add_func ("/path/escape", test_escape);
  return g_test_run ();
}
