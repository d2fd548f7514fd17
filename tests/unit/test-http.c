/* Unit tests of plugin/mv-http: deadlines and Retry-After (seconds, HTTP-dates, garbage, the
 * cap), and GET, HEAD and streams through libcurl against a real HTTP server the test runs on
 * 127.0.0.1 (a thread answering each connection with scripted bytes): response headers as
 * the client stores them, statuses, the body cap, transport failures and how they are
 * classified, deadlines, the low-speed limit, cancellation, and stream resumes with Range.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mv-error-private.h"
#include "mv-http-private.h"

/* ---------------------------------------------------------------------------------------- */
/* A real HTTP server on 127.0.0.1: one connection at a time, each answered by a handler.   */

#include "mvtest-server.h"

typedef MvTestServer Server;
typedef MvTestHandler Handler;

static char *
server_url (Server *s, const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", s->port, path);
}

static guint
server_count (Server *s)
{
  guint n;
  g_mutex_lock (&s->mutex);
  n = s->requests->len;
  g_mutex_unlock (&s->mutex);
  return n;
}

static char *
server_request (Server *s, guint i)
{
  char *r;
  g_mutex_lock (&s->mutex);
  g_assert_cmpuint (i, <, s->requests->len);
  r = g_strdup (s->requests->pdata[i]);
  g_mutex_unlock (&s->mutex);
  return r;
}

/* The value of request header @name (as sent: "Name: value"), or NULL. */
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

/* Sends s->data, a whole raw response, as is. */
static void
handle_raw (Server *s, guint index, const char *request, int fd)
{
  mvtest_send_str (fd, s->data);
}

static const MvHttpOptions plain = { .tls_verify = TRUE, .connect_timeout = 5 };

/* The bytes of a body: a pattern no shifted copy of itself matches. */
static guint8 *
pattern (gsize len)
{
  guint8 *b = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    b[i] = (guint8)((i * 7 + i / 251) & 0xff);
  return b;
}

/* ---------------------------------------------------------------------------------------- */
/* Pure functions                                                                           */

static void
test_deadline_passed (void)
{
  gint64 now = g_get_monotonic_time ();

  g_assert_false (mv_http_deadline_passed (0));
  g_assert_true (mv_http_deadline_passed (1));
  g_assert_true (mv_http_deadline_passed (now - G_USEC_PER_SEC));
  g_assert_true (mv_http_deadline_passed (now));
  /* A tenth of a second of slack: a deadline 50 ms away has passed already. */
  g_assert_true (mv_http_deadline_passed (now + 50 * 1000));
  g_assert_false (mv_http_deadline_passed (now + 10 * G_USEC_PER_SEC));
  g_assert_false (mv_http_deadline_passed (G_MAXINT64));
  /* Only a positive deadline is one, as for the transfers themselves. */
  g_assert_false (mv_http_deadline_passed (-5));
}

static MvHttpResponse *
response_with (const char *retry_after)
{
  MvHttpResponse *resp = g_new0 (MvHttpResponse, 1);
  resp->status = 429;
  resp->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (retry_after != NULL)
    g_hash_table_insert (resp->headers, g_strdup ("retry-after"), g_strdup (retry_after));
  return resp;
}

typedef struct
{
  const char *value; /* nullable: no header */
  guint64 max_ms;
  guint64 expected;
} RetryAfter;

static const RetryAfter retry_after_fixed[] = {
  { NULL, 30000, 0 },
  { "", 30000, 0 },
  { "0", 30000, 0 },
  { "1", 30000, 1000 },
  { "007", 30000, 7000 },
  { "30", 30000, 30000 },
  { "31", 30000, 30000 },
  { "120", 30000, 30000 },
  { "2", 1500, 1500 },
  { "1", 1500, 1000 },
  { "5", 0, 0 },
  /* The largest count of seconds whose milliseconds fit, and more digits than fit. */
  { "18446744073709551", G_MAXUINT64, G_GUINT64_CONSTANT (18446744073709551000) },
  { "18446744073709552", G_MAXUINT64, G_MAXUINT64 },
  { "18446744073709551615", 30000, 30000 },
  { "99999999999999999999999999999999", 30000, 30000 },
  /* Not delay-seconds, not an HTTP-date: the caller's own backoff. */
  { "-1", 30000, 0 },
  { "+5", 30000, 0 },
  { " 5", 30000, 0 },
  { "5 ", 30000, 0 },
  { "1.5", 30000, 0 },
  { "5s", 30000, 0 },
  { "0x10", 30000, 0 },
  { "abc", 30000, 0 },
  { "tomorrow", 30000, 0 },
  { "12:00:00", 30000, 0 },
  { "\x01\x02", 30000, 0 },
  { "Mon, 32 Foo 2024 99:99:99 GMT", 30000, 0 },
  /* HTTP-dates that have passed: IMF-fixdate, RFC 850, asctime. */
  { "Sun, 06 Nov 1994 08:49:37 GMT", 30000, 0 },
  { "Sunday, 06-Nov-94 08:49:37 GMT", 30000, 0 },
  { "Sun Nov  6 08:49:37 1994", 30000, 0 },
  /* Far in the future: the cap. */
  { "Fri, 31 Dec 9999 23:59:59 GMT", 30000, 30000 },
  { "Fri, 31 Dec 9999 23:59:59 GMT", 1, 1 },
};

static void
test_retry_after_fixed (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (retry_after_fixed); i++)
    {
      const RetryAfter *t = &retry_after_fixed[i];
      g_autoptr (MvHttpResponse) resp = response_with (t->value);
      g_autofree char *shown = g_strescape (t->value ? t->value : "(none)", NULL);

      g_test_message ("Retry-After '%s', at most %" G_GUINT64_FORMAT " ms", shown, t->max_ms);
      g_assert_cmpuint (mv_http_retry_after_ms (resp, t->max_ms), ==, t->expected);
    }
  g_assert_cmpuint (mv_http_retry_after_ms (NULL, 30000), ==, 0);
}

/* @t as an HTTP-date: 0 IMF-fixdate, 1 RFC 850, 2 asctime (English names, whatever the
 * locale). */
static char *
http_date (GDateTime *t, int form)
{
  static const char *const days[]
      = { "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday" };
  static const char *const months[]
      = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  const char *day = days[g_date_time_get_day_of_week (t) - 1];
  const char *month = months[g_date_time_get_month (t) - 1];
  int d = g_date_time_get_day_of_month (t), y = g_date_time_get_year (t);
  int hh = g_date_time_get_hour (t), mm = g_date_time_get_minute (t);
  int ss = g_date_time_get_second (t);

  switch (form)
    {
      case 0:
        return g_strdup_printf ("%.3s, %02d %s %04d %02d:%02d:%02d GMT", day, d, month, y, hh, mm,
                                ss);
      case 1:
        return g_strdup_printf ("%s, %02d-%s-%02d %02d:%02d:%02d GMT", day, d, month, y % 100, hh,
                                mm, ss);
      default:
        return g_strdup_printf ("%.3s %s %2d %02d:%02d:%02d %04d", day, month, d, hh, mm, ss, y);
    }
}

static void
test_retry_after_date (void)
{
  for (int form = 0; form < 3; form++)
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
      g_autoptr (GDateTime) soon = g_date_time_add_seconds (now, 20);
      g_autoptr (GDateTime) later = g_date_time_add_seconds (now, 3600);
      g_autoptr (GDateTime) before = g_date_time_add_seconds (now, -5);
      g_autofree char *v_soon = http_date (soon, form);
      g_autofree char *v_later = http_date (later, form);
      g_autofree char *v_before = http_date (before, form);
      g_autoptr (MvHttpResponse) r_soon = response_with (v_soon);
      g_autoptr (MvHttpResponse) r_later = response_with (v_later);
      g_autoptr (MvHttpResponse) r_before = response_with (v_before);
      guint64 ms = mv_http_retry_after_ms (r_soon, 60000);

      g_test_message ("%s", v_soon);
      /* Whole seconds: between 19 and 20 s from when the date was written. */
      g_assert_cmpuint (ms, >, 18000);
      g_assert_cmpuint (ms, <=, 20000);
      g_assert_cmpuint (mv_http_retry_after_ms (r_soon, 5000), ==, 5000);
      g_assert_cmpuint (mv_http_retry_after_ms (r_later, 30000), ==, 30000);
      g_assert_cmpuint (mv_http_retry_after_ms (r_before, 30000), ==, 0);
    }
}

static void
test_options_clear (void)
{
  MvHttpOptions opts = { .tls_verify = TRUE,
                         .ca_pem = g_bytes_new ("pem", 3),
                         .client_cert = g_strdup ("/x.cert"),
                         .client_key = g_strdup ("/x.key"),
                         .connect_timeout = 7 };

  mv_http_options_clear (&opts);
  g_assert_null (opts.ca_pem);
  g_assert_null (opts.client_cert);
  g_assert_null (opts.client_key);
  g_assert_true (opts.tls_verify);
  g_assert_cmpint (opts.connect_timeout, ==, 7);
  mv_http_options_clear (&opts); /* twice is fine */
  mv_http_response_free (NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* GET and HEAD                                                                             */

static void
test_get_headers (void)
{
  static const char response[] = "HTTP/1.1 200 OK\r\n"
                                 "Content-Type: application/json\r\n"
                                 "X-Dup: first\r\n"
                                 "X-Dup: second\r\n"
                                 "X-MiXeD-CaSe:    padded value \t \r\n"
                                 "X-Empty:\r\n"
                                 "X-Colons: a:b: c\r\n"
                                 "Retry-After:  7 \r\n"
                                 "Content-Length: 5\r\n"
                                 "\r\n"
                                 "hello";
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_raw, response);
  g_autofree char *url = server_url (s, "/v2/some/path?q=1");
  const char *const hdrs[] = { "X-Test: one", "Accept: application/x-test", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = mv_http_get (&plain, url, hdrs, 1024, 0, NULL, &error);
  g_autofree char *req = NULL;
  g_autofree char *ua = NULL;
  g_autofree char *ae = NULL;
  g_autofree char *xt = NULL;
  g_autofree char *acc = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (resp);
  g_assert_cmpint (resp->status, ==, 200);
  g_assert_cmpstr (resp->url, ==, url);
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "content-type"), ==, "application/json");
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "x-dup"), ==, "second");
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "x-mixed-case"), ==, "padded value");
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "x-empty"), ==, "");
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "x-colons"), ==, "a:b: c");
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "content-length"), ==, "5");
  g_assert_cmpuint (g_hash_table_size (resp->headers), ==, 7);
  g_assert_cmpuint (mv_http_retry_after_ms (resp, 30000), ==, 7000);
  g_assert_cmpmem (g_bytes_get_data (resp->body, NULL), g_bytes_get_size (resp->body), "hello", 5);

  g_assert_cmpuint (server_count (s), ==, 1);
  req = server_request (s, 0);
  g_assert_true (g_str_has_prefix (req, "GET /v2/some/path?q=1 HTTP/1.1\r\n"));
  ua = request_header (req, "User-Agent");
  g_assert_cmpstr (ua, ==, "modelvol/" PACKAGE_VERSION);
  /* Blob bytes reach the digest as sent: no transparent decompression. */
  ae = request_header (req, "Accept-Encoding");
  g_assert_cmpstr (ae, ==, "identity");
  xt = request_header (req, "X-Test");
  g_assert_cmpstr (xt, ==, "one");
  acc = request_header (req, "Accept");
  g_assert_cmpstr (acc, ==, "application/x-test");
}

/* Headers of an interim response are forgotten. */
static void
test_get_interim (void)
{
  static const char response[] = "HTTP/1.1 100 Continue\r\n"
                                 "X-Interim: yes\r\n"
                                 "\r\n"
                                 "HTTP/1.1 200 OK\r\n"
                                 "X-Final: yes\r\n"
                                 "Content-Length: 2\r\n"
                                 "\r\n"
                                 "ok";
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_raw, response);
  g_autofree char *url = server_url (s, "/");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = mv_http_get (&plain, url, NULL, 1024, 0, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (resp->status, ==, 200);
  g_assert_null (g_hash_table_lookup (resp->headers, "x-interim"));
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "x-final"), ==, "yes");
  g_assert_cmpuint (g_hash_table_size (resp->headers), ==, 2);
}

typedef struct
{
  const char *response;
  long status;
  const char *body;
  const char *location; /* nullable */
} StatusCase;

static const StatusCase statuses[] = {
  { "HTTP/1.1 204 No Content\r\n\r\n", 204, "", NULL },
  { "HTTP/1.1 301 Moved\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n", 301, "",
    "/elsewhere" },
  { "HTTP/1.1 307 Temporary Redirect\r\nLocation: https://cdn.example.com/b\r\n"
    "Content-Length: 3\r\n\r\nabc",
    307, "abc", "https://cdn.example.com/b" },
  { "HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\ndeny", 401, "deny", NULL },
  { "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", 404, "not found", NULL },
  { "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n", 429, "", NULL },
  { "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1\r\n\r\nx", 500, "x", NULL },
  { "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nbye", 503, "bye", NULL },
  { "HTTP/1.0 200 OK\r\n\r\nold server", 200, "old server", NULL },
  { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 200,
    "abcde", NULL },
};

static void
test_get_status (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (statuses); i++)
    {
      const StatusCase *t = &statuses[i];
      g_autoptr (MvTestServer) s = mvtest_server_new (handle_raw, t->response);
      g_autofree char *url = server_url (s, "/thing");
      g_autoptr (GError) error = NULL;
      g_autoptr (MvHttpResponse) resp = NULL;

      g_test_message ("status case %" G_GSIZE_FORMAT, i);
      resp = mv_http_get (&plain, url, NULL, 1024, 0, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (resp->status, ==, t->status);
      g_assert_cmpmem (g_bytes_get_data (resp->body, NULL), g_bytes_get_size (resp->body), t->body,
                       strlen (t->body));
      g_assert_cmpstr (g_hash_table_lookup (resp->headers, "location"), ==, t->location);
      /* Redirects are not followed: the caller decides. */
      g_assert_cmpstr (resp->url, ==, url);
      g_assert_cmpuint (server_count (s), ==, 1);
    }
}

static void
handle_body_of_size (Server *s, guint index, const char *request, int fd)
{
  gsize len = GPOINTER_TO_SIZE (s->data);
  g_autofree guint8 *body = pattern (len);
  g_autofree char *head
      = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n\r\n", len);
  if (mvtest_send_str (fd, head))
    mvtest_send_all (fd, body, len);
}

static void
test_get_body_cap (void)
{
  static const gsize sizes[] = { 0, 1, 1000, 200000 };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (MvTestServer) s
          = mvtest_server_new (handle_body_of_size, GSIZE_TO_POINTER (sizes[i]));
      g_autofree char *url = server_url (s, "/blob");
      g_autofree guint8 *want = pattern (sizes[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (MvHttpResponse) exact = NULL;
      g_autoptr (MvHttpResponse) over = NULL;
      g_autofree char *msg = NULL;

      g_test_message ("a body of %" G_GSIZE_FORMAT " bytes", sizes[i]);
      exact = mv_http_get (&plain, url, NULL, sizes[i], 0, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (exact->body, NULL), g_bytes_get_size (exact->body), want,
                       sizes[i]);
      if (sizes[i] == 0)
        continue;
      over = mv_http_get (&plain, url, NULL, sizes[i] - 1, 0, NULL, &error);
      g_assert_null (over);
      g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
      msg = g_strdup_printf ("%s: response body above %" G_GSIZE_FORMAT " bytes", url,
                             sizes[i] - 1);
      g_assert_cmpstr (error->message, ==, msg);
    }
}

static void
handle_head (Server *s, guint index, const char *request, int fd)
{
  if (g_str_has_prefix (request, "HEAD "))
    mvtest_send_str (fd, "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nDocker-Content-Digest: "
                         "sha256:abc\r\n\r\n");
  else
    mvtest_send_str (fd, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
}

static void
test_head (void)
{
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_head, NULL);
  g_autofree char *url = server_url (s, "/v2/r/blobs/x");
  const char *const hdrs[] = { "Authorization: Bearer t", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = mv_http_head (&plain, url, hdrs, 0, NULL, &error);
  g_autofree char *req = NULL;
  g_autofree char *authz = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (resp->status, ==, 200);
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "content-length"), ==, "12345");
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "docker-content-digest"), ==, "sha256:abc");
  g_assert_cmpuint (g_bytes_get_size (resp->body), ==, 0);
  req = server_request (s, 0);
  g_assert_true (g_str_has_prefix (req, "HEAD /v2/r/blobs/x HTTP/1.1\r\n"));
  authz = request_header (req, "Authorization");
  g_assert_cmpstr (authz, ==, "Bearer t");
}

/* ---------------------------------------------------------------------------------------- */
/* Transport failures                                                                       */

static void
handle_close (Server *s, guint index, const char *request, int fd)
{
}

static void
handle_truncated (Server *s, guint index, const char *request, int fd)
{
  mvtest_send_str (fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
}

static void
handle_stall (Server *s, guint index, const char *request, int fd)
{
  if (mvtest_send_str (fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789"))
    mvtest_server_stall (s, fd, 10000);
}

static void
assert_error_starts (const GError *error, const char *url)
{
  g_assert_nonnull (error);
  if (!g_str_has_prefix (error->message, url) || error->message[strlen (url)] != ':')
    g_error ("error \"%s\" does not start with \"%s:\"", error->message, url);
}

static void
test_refused (void)
{
  guint16 port;
  int fd = mvtest_listen_local (&port); /* bound, never listening: nothing accepts */
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/v2/", port);
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = mv_http_get (&plain, url, NULL, 1024, 0, NULL, &error);
  g_autoptr (GInputStream) stream = NULL;
  MvHttpResponse *sresp = NULL;

  g_assert_null (resp);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  assert_error_starts (error, url);
  g_clear_error (&error);
  g_assert_null (mv_http_head (&plain, url, NULL, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);
  stream = mv_http_get_stream (&plain, url, NULL, 0, &sresp, NULL, &error);
  g_assert_null (stream);
  g_assert_null (sresp);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  close (fd);
}

typedef struct
{
  Handler handler;
  gconstpointer data;
  const char *scheme;
  int code; /* G_IO_ERROR */
} FailCase;

static const FailCase failures[] = {
  /* What may work on another try. */
  { handle_close, NULL, "http", G_IO_ERROR_CONNECTION_CLOSED },
  { handle_truncated, NULL, "http", G_IO_ERROR_CONNECTION_CLOSED },
  /* What will not: not HTTP, TLS to a server that speaks none. */
  { handle_raw, "SSH-2.0-OpenSSH_9.2\r\n\r\n", "http", G_IO_ERROR_FAILED },
  { handle_raw, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "https", G_IO_ERROR_FAILED },
};

static void
test_failures (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      const FailCase *t = &failures[i];
      g_autoptr (MvTestServer) s = mvtest_server_new (t->handler, t->data);
      g_autofree char *url = g_strdup_printf ("%s://127.0.0.1:%u/x", t->scheme, s->port);
      g_autoptr (GError) error = NULL;
      g_autoptr (MvHttpResponse) resp = NULL;

      g_test_message ("failure case %" G_GSIZE_FORMAT, i);
      resp = mv_http_get (&plain, url, NULL, 1024, 0, NULL, &error);
      g_assert_null (resp);
      g_assert_error (error, G_IO_ERROR, t->code);
      assert_error_starts (error, url);
    }
}

/* Only http and https: never a file read or another protocol, whatever a registry names. */
static void
test_protocols (void)
{
  static const char *const urls[] = {
    "file:///etc/passwd",
    "ftp://127.0.0.1:1/x",
    "gopher://127.0.0.1:1/x",
    "dict://127.0.0.1:1/x",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvHttpResponse) resp
          = mv_http_get (&plain, urls[i], NULL, 1 << 20, 0, NULL, &error);

      g_test_message ("%s", urls[i]);
      g_assert_null (resp);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
      assert_error_starts (error, urls[i]);
    }
}

static void
test_deadline_exceeded (void)
{
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_stall, NULL);
  g_autofree char *url = server_url (s, "/slow");
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr (MvHttpResponse) resp
      = mv_http_get (&plain, url, NULL, 1 << 20, start + 400 * 1000, NULL, &error);
  g_autofree char *prefix = g_strdup_printf (
      "%s: not done by the overall deadline (--timeout, MODELVOL_TIMEOUT): ", url);
  gint64 took = g_get_monotonic_time () - start;

  g_assert_null (resp);
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_cmpint (took, >=, 300 * 1000);
  g_assert_cmpint (took, <, 5 * G_USEC_PER_SEC);
}

static void
test_low_speed (void)
{
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_stall, NULL);
  g_autofree char *url = server_url (s, "/slow");
  const MvHttpOptions opts = { .tls_verify = TRUE, .low_speed_time = 1, .low_speed_limit = 1000 };
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr (MvHttpResponse) resp
      = mv_http_get (&opts, url, NULL, 1 << 20, start + 30 * G_USEC_PER_SEC, NULL, &error);
  gint64 took = g_get_monotonic_time () - start;

  /* Below the limit, and long before the deadline: worth another try. */
  g_assert_null (resp);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  assert_error_starts (error, url);
  g_assert_cmpint (took, <, 10 * G_USEC_PER_SEC);
}

static void
cancel_soon (GCancellable *c)
{
  g_usleep (200 * 1000);
  g_cancellable_cancel (c);
}

static void
test_cancelled (void)
{
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_stall, NULL);
  g_autofree char *url = server_url (s, "/slow");
  g_autoptr (GCancellable) before = g_cancellable_new ();
  g_autoptr (GCancellable) during = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GThread) canceller = NULL;
  gint64 start;

  g_cancellable_cancel (before);
  g_assert_null (mv_http_get (&plain, url, NULL, 1 << 20, 0, before, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  canceller = g_thread_new ("cancel", (GThreadFunc)cancel_soon, during);
  g_assert_null (mv_http_get (&plain, url, NULL, 1 << 20, 0, during, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_thread_join (g_steal_pointer (&canceller));
}

/* ---------------------------------------------------------------------------------------- */
/* Streams                                                                                  */

static GBytes *
read_all (GInputStream *stream, GError **error)
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

#define STREAM_SIZE 200000

static void
test_stream_whole (void)
{
  g_autoptr (MvTestServer) s
      = mvtest_server_new (handle_body_of_size, GSIZE_TO_POINTER (STREAM_SIZE));
  g_autofree char *url = server_url (s, "/blob");
  g_autofree guint8 *want = pattern (STREAM_SIZE);
  const char *const hdrs[] = { "X-Test: stream", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autoptr (GInputStream) stream = mv_http_get_stream (&plain, url, hdrs, 0, &resp, NULL, &error);
  g_autoptr (GBytes) got = NULL;
  g_autofree char *req = NULL;
  g_autofree char *xt = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (stream);
  g_assert_cmpint (resp->status, ==, 200);
  g_assert_cmpstr (resp->url, ==, url);
  g_assert_null (resp->body);
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "content-length"), ==, "200000");
  got = read_all (stream, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), want, STREAM_SIZE);
  g_assert_true (g_input_stream_close (stream, NULL, &error));
  g_assert_cmpuint (server_count (s), ==, 1);
  req = server_request (s, 0);
  xt = request_header (req, "X-Test");
  g_assert_cmpstr (xt, ==, "stream");
  g_assert_null (strstr (req, "Range:"));
}

static void
test_stream_not_200 (void)
{
  static const char response[] = "HTTP/1.1 404 Not Found\r\nX-Why: gone\r\n"
                                 "Content-Length: 4\r\n\r\nnope";
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_raw, response);
  g_autofree char *url = server_url (s, "/blob");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autoptr (GInputStream) stream = mv_http_get_stream (&plain, url, NULL, 0, &resp, NULL, &error);

  g_assert_null (stream);
  g_assert_no_error (error);
  g_assert_cmpint (resp->status, ==, 404);
  g_assert_cmpstr (g_hash_table_lookup (resp->headers, "x-why"), ==, "gone");
  g_assert_cmpmem (g_bytes_get_data (resp->body, NULL), g_bytes_get_size (resp->body), "nope", 4);
}

static void
handle_big_error (Server *s, guint index, const char *request, int fd)
{
  g_autofree char *body = g_strnfill (1024 * 1024, 'e');
  if (mvtest_send_str (fd, "HTTP/1.1 500 Oops\r\nContent-Length: 1048576\r\n\r\n"))
    mvtest_send_str (fd, body);
}

/* A non-200 body is read capped: no error, and no more than the cap kept. */
static void
test_stream_error_body_cap (void)
{
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_big_error, NULL);
  g_autofree char *url = server_url (s, "/blob");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autoptr (GInputStream) stream = mv_http_get_stream (&plain, url, NULL, 0, &resp, NULL, &error);

  g_assert_null (stream);
  g_assert_no_error (error);
  g_assert_cmpint (resp->status, ==, 500);
  g_assert_cmpuint (g_bytes_get_size (resp->body), <=, 64 * 1024);
}

/* Resumes: the first response breaks after CUT bytes; what the next ones answer is the
 * case's. */
#define CUT 70000

typedef enum
{
  RESUME_EXACT,      /* 206 from the byte asked for */
  RESUME_FULL,       /* 200 and the whole body again (Range ignored) */
  RESUME_WRONG_FROM, /* 206 from another byte */
  RESUME_NO_RANGE,   /* 206 without Content-Range */
  RESUME_BREAKS,     /* 206 from the byte asked for, broken again after 1000 bytes */
} ResumeMode;

static void
handle_resume (Server *s, guint index, const char *request, int fd)
{
  ResumeMode mode = GPOINTER_TO_INT (s->data);
  g_autofree guint8 *body = pattern (STREAM_SIZE);
  g_autofree char *range = request_header (request, "Range");
  g_autofree char *head = NULL;
  guint64 from = 0;

  if (range == NULL || mode == RESUME_FULL)
    {
      head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", STREAM_SIZE);
      if (mvtest_send_str (fd, head))
        mvtest_send_all (fd, body, range == NULL ? CUT : STREAM_SIZE);
      return;
    }
  g_assert_true (g_str_has_prefix (range, "bytes="));
  g_assert_true (g_str_has_suffix (range, "-"));
  from = g_ascii_strtoull (range + 6, NULL, 10);
  g_assert_cmpuint (from, <, STREAM_SIZE);
  if (mode == RESUME_NO_RANGE)
    head = g_strdup_printf ("HTTP/1.1 206 Partial Content\r\nContent-Length: %" G_GUINT64_FORMAT
                            "\r\n\r\n",
                            STREAM_SIZE - from);
  else
    head = g_strdup_printf (
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %" G_GUINT64_FORMAT
        "-%d/%d\r\nContent-Length: %" G_GUINT64_FORMAT "\r\n\r\n",
        mode == RESUME_WRONG_FROM ? 0 : from, STREAM_SIZE - 1, STREAM_SIZE, STREAM_SIZE - from);
  if (mvtest_send_str (fd, head))
    mvtest_send_all (fd, body + from, mode == RESUME_BREAKS ? 1000 : STREAM_SIZE - from);
}

static void
test_stream_resume (void)
{
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_resume, GINT_TO_POINTER (RESUME_EXACT));
  g_autofree char *url = server_url (s, "/blob");
  g_autofree guint8 *want = pattern (STREAM_SIZE);
  const char *const hdrs[] = { "Authorization: Bearer tok", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autoptr (GInputStream) stream = mv_http_get_stream (&plain, url, hdrs, 0, &resp, NULL, &error);
  g_autoptr (GBytes) got = NULL;
  g_autofree char *req = NULL;
  g_autofree char *range = NULL;
  g_autofree char *authz = NULL;

  g_assert_no_error (error);
  got = read_all (stream, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), want, STREAM_SIZE);
  g_assert_cmpuint (server_count (s), ==, 2);
  req = server_request (s, 1);
  range = request_header (req, "Range");
  g_assert_cmpstr (range, ==, "bytes=70000-");
  /* The resumed request carries the same headers. */
  authz = request_header (req, "Authorization");
  g_assert_cmpstr (authz, ==, "Bearer tok");
}

typedef struct
{
  ResumeMode mode;
  guint requests;  /* how many the stream makes in all */
  gsize delivered; /* how many bytes the reader gets before the error */
} ResumeFail;

static const ResumeFail resume_failures[] = {
  { RESUME_FULL, 2, CUT },
  { RESUME_WRONG_FROM, 2, CUT },
  { RESUME_NO_RANGE, 2, CUT },
  /* At most 3 resumes. */
  { RESUME_BREAKS, 4, CUT + 3 * 1000 },
};

static void
test_stream_resume_refused (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (resume_failures); i++)
    {
      const ResumeFail *t = &resume_failures[i];
      g_autoptr (MvTestServer) s = mvtest_server_new (handle_resume, GINT_TO_POINTER (t->mode));
      g_autofree char *url = server_url (s, "/blob");
      g_autofree guint8 *want = pattern (STREAM_SIZE);
      g_autoptr (GError) error = NULL;
      g_autoptr (MvHttpResponse) resp = NULL;
      g_autoptr (GInputStream) stream = NULL;
      g_autoptr (GByteArray) got = g_byte_array_new ();
      gssize n;

      g_test_message ("resume mode %d", t->mode);
      stream = mv_http_get_stream (&plain, url, NULL, 0, &resp, NULL, &error);
      g_assert_no_error (error);
      for (;;)
        {
          guint8 buf[16384];
          n = g_input_stream_read (stream, buf, sizeof buf, NULL, &error);
          if (n <= 0)
            break;
          g_byte_array_append (got, buf, n);
        }
      /* The failure is the caller's to handle (it starts the blob over): the bytes so far
       * were all good ones. */
      g_assert_cmpint (n, ==, -1);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
      assert_error_starts (error, url);
      g_assert_cmpmem (got->data, got->len, want, t->delivered);
      g_assert_cmpuint (server_count (s), ==, t->requests);
    }
}

/* Broken before the first body byte: nothing to resume from. */
static void
test_stream_no_body (void)
{
  static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_raw, response);
  g_autofree char *url = server_url (s, "/blob");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  g_autoptr (GInputStream) stream = mv_http_get_stream (&plain, url, NULL, 0, &resp, NULL, &error);
  guint8 buf[100];

  g_assert_no_error (error);
  g_assert_nonnull (stream);
  g_assert_cmpint (g_input_stream_read (stream, buf, sizeof buf, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_cmpuint (server_count (s), ==, 1);
}

/* A stalled stream past its deadline: final, not resumed. */
static void
test_stream_deadline (void)
{
  g_autoptr (MvTestServer) s = mvtest_server_new (handle_stall, NULL);
  g_autofree char *url = server_url (s, "/blob");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GInputStream) stream
      = mv_http_get_stream (&plain, url, NULL, start + 500 * 1000, &resp, NULL, &error);
  g_autoptr (GBytes) got = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (stream);
  got = read_all (stream, &error);
  g_assert_null (got);
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "not done by the overall deadline"));
  g_assert_cmpuint (server_count (s), ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

/* The reader going away mid-body ends the transfer: no hang, nothing leaked. */
static void
test_stream_early_unref (void)
{
  g_autoptr (MvTestServer) s
      = mvtest_server_new (handle_body_of_size, GSIZE_TO_POINTER (32 * 1024 * 1024));
  g_autofree char *url = server_url (s, "/blob");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvHttpResponse) resp = NULL;
  GInputStream *stream = mv_http_get_stream (&plain, url, NULL, 0, &resp, NULL, &error);
  g_autofree guint8 *want = pattern (1000);
  guint8 buf[1000];
  gsize n = 0;
  gint64 start = g_get_monotonic_time ();

  g_assert_no_error (error);
  g_assert_true (g_input_stream_read_all (stream, buf, sizeof buf, &n, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, want, 1000);
  g_object_unref (stream);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http/deadline-passed", test_deadline_passed);
  g_test_add_func ("/http/retry-after/fixed", test_retry_after_fixed);
  g_test_add_func ("/http/retry-after/date", test_retry_after_date);
  g_test_add_func ("/http/options-clear", test_options_clear);
  g_test_add_func ("/http/get/headers", test_get_headers);
  g_test_add_func ("/http/get/interim", test_get_interim);
  g_test_add_func ("/http/get/status", test_get_status);
  g_test_add_func ("/http/get/body-cap", test_get_body_cap);
  g_test_add_func ("/http/head", test_head);
  g_test_add_func ("/http/fail/refused", test_refused);
  g_test_add_func ("/http/fail/classified", test_failures);
  g_test_add_func ("/http/fail/protocols", test_protocols);
  g_test_add_func ("/http/fail/deadline", test_deadline_exceeded);
  g_test_add_func ("/http/fail/low-speed", test_low_speed);
  g_test_add_func ("/http/fail/cancelled", test_cancelled);
  g_test_add_func ("/http/stream/whole", test_stream_whole);
  g_test_add_func ("/http/stream/not-200", test_stream_not_200);
  g_test_add_func ("/http/stream/error-body-cap", test_stream_error_body_cap);
  g_test_add_func ("/http/stream/resume", test_stream_resume);
  g_test_add_func ("/http/stream/resume-refused", test_stream_resume_refused);
  g_test_add_func ("/http/stream/no-body", test_stream_no_body);
  g_test_add_func ("/http/stream/deadline", test_stream_deadline);
  g_test_add_func ("/http/stream/early-unref", test_stream_early_unref);
  return g_test_run ();
}
