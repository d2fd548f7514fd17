/* modelvol login REGISTRY [--username U] [--password-stdin] [--authfile F] [--tls-verify=B]
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "mv-builtins.h"
#include "mv-source-private.h"

static char *opt_username;
static gboolean opt_password_stdin;
static char *opt_authfile;
static char *opt_tls_verify;
static char *opt_cert_dir;

static const GOptionEntry entries[] = {
  { "username", 'u', 0, G_OPTION_ARG_STRING, &opt_username, "User name", "USER" },
  { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &opt_password_stdin,
    "Read the password from standard input", NULL },
  { "authfile", 0, 0, G_OPTION_ARG_FILENAME, &opt_authfile,
    "Credentials file (default $REGISTRY_AUTH_FILE or /run/containers/UID/auth.json)", "FILE" },
  { "tls-verify", 0, 0, G_OPTION_ARG_STRING, &opt_tls_verify,
    "Check TLS certificates and require https (default true)", "BOOL" },
  { "cert-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_cert_dir,
    "CAs and client certificates (default /etc/containers/certs.d/HOST)", "DIR" },
  { NULL },
};

/* One line from stdin, without echo when it is a terminal. */
static char *
read_secret (const char *prompt, gboolean echo)
{
  struct termios old, quiet;
  gboolean tty = isatty (STDIN_FILENO);
  char buf[4096];
  char *line;

  if (tty)
    {
      fprintf (stderr, "%s", prompt);
      fflush (stderr);
    }
  if (tty && !echo && tcgetattr (STDIN_FILENO, &old) == 0)
    {
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t)ECHO;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
      line = fgets (buf, sizeof buf, stdin);
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &old);
      fprintf (stderr, "\n");
    }
  else
    line = fgets (buf, sizeof buf, stdin);
  if (line == NULL)
    return NULL;
  buf[strcspn (buf, "\r\n")] = '\0';
  line = g_strdup (buf);
  memset (buf, 0, sizeof buf);
  return line;
}

MV_BUILTIN (login)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("REGISTRY");
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;
  g_autofree char *authfile = NULL;
  g_autofree char *key = NULL;
  g_autofree char *user_pass = NULL;
  MvRegistryOptions opts = { .tls_verify = TRUE };
  g_autoptr (MvStore) store = NULL;

  g_option_context_set_summary (context,
                                "Check credentials against a registry and store them (auth.json, "
                                "mode 0600) for pull.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 2)
    return mv_usage_error (context, error, "login takes one REGISTRY (host[:port])");
  if (!mv_option_bool (context, "tls-verify", opt_tls_verify, TRUE, &opts.tls_verify, error))
    return FALSE;
  opts.certs_dir = opt_cert_dir;
  user = opt_username ? g_strdup (opt_username) : read_secret ("Username: ", TRUE);
  if (user == NULL || *user == '\0' || strchr (user, ':') != NULL)
    return mv_usage_error (context, error, "a user name (without ':') is needed");
  if (opt_password_stdin && isatty (STDIN_FILENO))
    return mv_usage_error (context, error, "--password-stdin: standard input is a terminal");
  password = read_secret ("Password: ", FALSE);
  if (password == NULL || *password == '\0')
    return mv_usage_error (context, error, "a password is needed");
  if (!mv_registry_login (argv[1], user, password, &opts, cancellable, error))
    return FALSE;
  authfile = opt_authfile ? g_strdup (opt_authfile) : mv_auth_file_default ();
  key = mv_registry_auth_key (argv[1]);
  user_pass = g_strconcat (user, ":", password, NULL);
  memset (password, 0, strlen (password));
  if (!mv_auth_file_set (authfile, key, user_pass, error))
    {
      memset (user_pass, 0, strlen (user_pass));
      return FALSE;
    }
  memset (user_pass, 0, strlen (user_pass));
  if (!mv_globals.quiet)
    printf ("Login succeeded: %s\n", key);
  return TRUE;
}
