/* mv-http: libcurl, for the registry client.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-http-private.h"

#define ERROR_BODY_MAX (64 * 1024)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CURL, curl_easy_cleanup)

void
mv_http_options_clear (MvHttpOptions *opts)
{
  g_clear_pointer (&opts->ca_pem, g_bytes_unref);
  g_clear_pointer (&opts->client_cert, g_free);
  g_clear_pointer (&opts->client_key, g_free);
}

void
mv_http_response_free (MvHttpResponse *resp)
{
  if (resp == NULL)
    return;
  g_free (resp->url);
  g_clear_pointer (&resp->headers, g_hash_table_unref);
  g_clear_pointer (&resp->body, g_bytes_unref);
  g_free (resp);
}

typedef struct
{
  MvHttpResponse *resp;
  GByteArray *body;
  gsize max_body;
  gboolean overflow;
  int sock; /* stream mode: where 200 bodies go; -1 otherwise */
  gboolean send_failed;
  GCancellable *cancellable;
  gint64 deadline; /* monotonic; 0: none */
  /* stream mode: the headers are in once the first body byte or the end arrives */
  GMutex mutex;
  GCond cond;
  gboolean headers_done;
  gboolean transfer_done;
  CURLcode result;
  char errbuf[CURL_ERROR_SIZE];
} Transfer;

static size_t
header_cb (char *buf, size_t size, size_t n, void *data)
{
  Transfer *t = data;
  gsize len = size * n;
  g_autofree char *line = g_strndup (buf, len);
  char *colon;

  g_strchomp (line);
  if (g_str_has_prefix (line, "HTTP/"))
    {
      /* A new response (after a 100 Continue): forget the previous headers. */
      g_hash_table_remove_all (t->resp->headers);
      return len;
    }
  colon = strchr (line, ':');
  if (colon != NULL && colon != line)
    {
      char *name = g_ascii_strdown (line, colon - line);
      g_hash_table_replace (t->resp->headers, name, g_strdup (g_strstrip (colon + 1)));
    }
  return len;
}

static void
mark_headers_done (Transfer *t, CURL *curl)
{
  g_mutex_lock (&t->mutex);
  if (!t->headers_done)
    {
      char *url = NULL;
      curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &t->resp->status);
      curl_easy_getinfo (curl, CURLINFO_EFFECTIVE_URL, &url);
      t->resp->url = g_strdup (url);
      t->headers_done = TRUE;
      g_cond_broadcast (&t->cond);
    }
  g_mutex_unlock (&t->mutex);
}

typedef struct
{
  Transfer *t;
  CURL *curl;
} WriteCtx;

static size_t
write_cb (char *buf, size_t size, size_t n, void *data)
{
  WriteCtx *w = data;
  Transfer *t = w->t;
  gsize len = size * n;

  mark_headers_done (t, w->curl);
  if (t->sock >= 0 && (t->resp->status == 200 || t->resp->status == 206))
    {
      const char *p = buf;
      gsize left = len;
      while (left > 0)
        {
          ssize_t k = send (t->sock, p, left, MSG_NOSIGNAL);
          if (k < 0 && errno == EINTR)
            continue;
          if (k <= 0)
            {
              t->send_failed = TRUE; /* the reader went away: stop the transfer */
              return 0;
            }
          p += k;
          left -= k;
        }
      return len;
    }
  if (t->body->len + len > t->max_body)
    {
      t->overflow = TRUE;
      return 0;
    }
  g_byte_array_append (t->body, (const guint8 *)buf, len);
  return len;
}

static int
xferinfo_cb (void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  Transfer *t = data;
  return g_cancellable_is_cancelled (t->cancellable) ? 1 : 0;
}

static CURL *
setup (const MvHttpOptions *opts, const char *url, struct curl_slist *headers, Transfer *t,
       WriteCtx *w)
{
  CURL *curl = curl_easy_init ();
  if (curl == NULL)
    return NULL;
  w->t = t;
  w->curl = curl;
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, opts->tls_verify ? 1L : 0L);
  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, opts->tls_verify ? 2L : 0L);
  if (opts->ca_pem != NULL)
    {
      struct curl_blob blob = { .data = (void *)g_bytes_get_data (opts->ca_pem, NULL),
                                .len = g_bytes_get_size (opts->ca_pem),
                                .flags = CURL_BLOB_COPY };
      curl_easy_setopt (curl, CURLOPT_CAINFO_BLOB, &blob);
    }
  if (opts->client_cert != NULL && opts->client_key != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_SSLCERT, opts->client_cert);
      curl_easy_setopt (curl, CURLOPT_SSLKEY, opts->client_key);
    }
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT,
                    opts->connect_timeout > 0 ? opts->connect_timeout : 30L);
  curl_easy_setopt (curl, CURLOPT_LOW_SPEED_LIMIT,
                    opts->low_speed_limit > 0 ? opts->low_speed_limit : 1024L);
  curl_easy_setopt (curl, CURLOPT_LOW_SPEED_TIME,
                    opts->low_speed_time > 0 ? opts->low_speed_time : 60L);
  if (t->deadline > 0)
    {
      /* Rounded up, and at least 1 ms: curl reads 0 as "no timeout". A deadline that has
       * passed fails at once, through the same path as one that passes mid-transfer. */
      gint64 left_us = t->deadline - g_get_monotonic_time ();
      curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long)MAX ((left_us + 999) / 1000, 1));
    }
  curl_easy_setopt (curl, CURLOPT_USERAGENT, "modelvol/" PACKAGE_VERSION);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (curl, CURLOPT_HEADERDATA, t);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, w);
  curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
  curl_easy_setopt (curl, CURLOPT_XFERINFODATA, t);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, t->errbuf);
  return curl;
}

static struct curl_slist *
make_headers (const char *const *headers)
{
  struct curl_slist *list = NULL;
  /* No transparent decompression: blob bytes must reach the digest as the registry sent them. */
  list = curl_slist_append (list, "Accept-Encoding: identity");
  for (guint i = 0; headers && headers[i]; i++)
    list = curl_slist_append (list, headers[i]);
  return list;
}

static void
transfer_init (Transfer *t, MvHttpResponse *resp, gsize max_body, int sock, gint64 deadline,
               GCancellable *cancellable)
{
  memset (t, 0, sizeof *t);
  t->resp = resp;
  t->body = g_byte_array_new ();
  t->max_body = max_body;
  t->sock = sock;
  t->deadline = deadline;
  t->cancellable = cancellable;
  g_mutex_init (&t->mutex);
  g_cond_init (&t->cond);
}

static void
transfer_clear (Transfer *t)
{
  g_clear_pointer (&t->body, g_byte_array_unref);
  g_mutex_clear (&t->mutex);
  g_cond_clear (&t->cond);
}

/* What is worth another try (a dropped or refused connection, a timeout) gets a code of its
 * own; TLS and protocol failures are G_IO_ERROR_FAILED and final. */
static int
io_error_code (CURLcode r)
{
  switch (r)
    {
      case CURLE_COULDNT_CONNECT:
        return G_IO_ERROR_CONNECTION_REFUSED;
      case CURLE_OPERATION_TIMEDOUT:
        return G_IO_ERROR_TIMED_OUT;
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_PARTIAL_FILE:
      case CURLE_GOT_NOTHING:
        return G_IO_ERROR_CONNECTION_CLOSED;
      default:
        return G_IO_ERROR_FAILED;
    }
}

gboolean
mv_http_deadline_passed (gint64 deadline)
{
  /* A little slack: curl's timer and ours do not tick together. */
  return deadline > 0 && g_get_monotonic_time () + G_USEC_PER_SEC / 10 >= deadline;
}

/* The overall deadline, not the low-speed limit, ended the transfer: not worth a retry. */
static gboolean
transfer_hit_deadline (Transfer *t)
{
  return t->result == CURLE_OPERATION_TIMEDOUT && mv_http_deadline_passed (t->deadline);
}

static gboolean
throw_curl (Transfer *t, const char *url, GError **error)
{
  if (g_cancellable_set_error_if_cancelled (t->cancellable, error))
    return FALSE;
  if (t->overflow)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                     "%s: response body above %" G_GSIZE_FORMAT " bytes", url, t->max_body);
  if (transfer_hit_deadline (t))
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                     "%s: not done by the overall deadline (--timeout, MODELVOL_TIMEOUT): %s", url,
                     t->errbuf[0] ? t->errbuf : curl_easy_strerror (t->result));
  g_set_error (error, G_IO_ERROR, io_error_code (t->result), "%s: %s", url,
               t->errbuf[0] ? t->errbuf : curl_easy_strerror (t->result));
  return FALSE;
}

static MvHttpResponse *
response_new (void)
{
  MvHttpResponse *resp = g_new0 (MvHttpResponse, 1);
  resp->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return resp;
}

static MvHttpResponse *
perform (const MvHttpOptions *opts, gboolean head, const char *url, const char *const *headers,
         gsize max_body, gint64 deadline, GCancellable *cancellable, GError **error)
{
  g_autoptr (MvHttpResponse) resp = response_new ();
  struct curl_slist *list = make_headers (headers);
  Transfer t;
  WriteCtx w;
  CURL *curl;

  transfer_init (&t, resp, max_body, -1, deadline, cancellable);
  curl = setup (opts, url, list, &t, &w);
  if (curl == NULL)
    {
      curl_slist_free_all (list);
      transfer_clear (&t);
      mv_throw (error, MV_ERROR_FAILED, "curl_easy_init failed");
      return NULL;
    }
  if (head)
    curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
  t.result = curl_easy_perform (curl);
  mark_headers_done (&t, curl);
  curl_easy_cleanup (curl);
  curl_slist_free_all (list);
  if (t.result != CURLE_OK)
    {
      throw_curl (&t, url, error);
      transfer_clear (&t);
      return NULL;
    }
  resp->body = g_byte_array_free_to_bytes (g_steal_pointer (&t.body));
  transfer_clear (&t);
  return g_steal_pointer (&resp);
}

MvHttpResponse *
mv_http_get (const MvHttpOptions *opts, const char *url, const char *const *headers, gsize max_body,
             gint64 deadline, GCancellable *cancellable, GError **error)
{
  return perform (opts, FALSE, url, headers, max_body, deadline, cancellable, error);
}

MvHttpResponse *
mv_http_head (const MvHttpOptions *opts, const char *url, const char *const *headers,
              gint64 deadline, GCancellable *cancellable, GError **error)
{
  return perform (opts, TRUE, url, headers, 0, deadline, cancellable, error);
}

guint64
mv_http_retry_after_ms (const MvHttpResponse *resp, guint64 max_ms)
{
  const char *v = resp ? g_hash_table_lookup (resp->headers, "retry-after") : NULL;
  guint64 ms;

  if (v == NULL || *v == '\0')
    return 0;
  if (strspn (v, "0123456789") == strlen (v))
    {
      /* delay-seconds; more digits than fit are simply "long". */
      guint64 secs = G_MAXUINT64;
      (void)g_ascii_string_to_unsigned (v, 10, 0, G_MAXUINT64, &secs, NULL);
      ms = secs > max_ms / 1000 ? max_ms : secs * 1000;
    }
  else
    {
      /* An HTTP-date (RFC 9110: IMF-fixdate, or the obsolete RFC 850 and asctime forms). */
      time_t when = curl_getdate (v, NULL);
      gint64 now_ms = g_get_real_time () / 1000;
      if (when < 0 || (gint64)when * 1000 <= now_ms)
        return 0;
      ms = MIN ((guint64)((gint64)when * 1000 - now_ms), max_ms);
    }
  return ms;
}

/* ---------------------------------------------------------------------------------------- */
/* Streams: a transfer thread writes the body into a socketpair the caller reads.           */

typedef struct
{
  Transfer t;
  WriteCtx w;
  CURL *curl;
  struct curl_slist *list;
  char *url;
  GThread *thread;
  int sock_read;
  gint refs; /* the thread and the stream */
} StreamJob;

static void
stream_job_unref (StreamJob *job)
{
  if (!g_atomic_int_dec_and_test (&job->refs))
    return;
  curl_easy_cleanup (job->curl);
  curl_slist_free_all (job->list);
  mv_close_fdp (&job->t.sock);
  mv_close_fdp (&job->sock_read);
  if (job->t.resp != NULL)
    mv_http_response_free (job->t.resp);
  transfer_clear (&job->t);
  g_free (job->url);
  g_free (job);
}

static gpointer
stream_thread (gpointer data)
{
  StreamJob *job = data;
  CURLcode r = curl_easy_perform (job->curl);

  mark_headers_done (&job->t, job->curl);
  g_mutex_lock (&job->t.mutex);
  job->t.result = r;
  job->t.transfer_done = TRUE;
  g_cond_broadcast (&job->t.cond);
  g_mutex_unlock (&job->t.mutex);
  /* EOF for the reader; it learns from the job whether the transfer completed. */
  shutdown (job->t.sock, SHUT_WR);
  return NULL;
}

#define MV_TYPE_CURL_STREAM (mv_curl_stream_get_type ())
G_DECLARE_FINAL_TYPE (MvCurlStream, mv_curl_stream, MV, CURL_STREAM, GInputStream)

struct _MvCurlStream
{
  GInputStream parent;
  StreamJob *job;
  /* What a resumed request needs. */
  MvHttpOptions opts;
  char **headers;
  GCancellable *cancellable;
  gint64 deadline;
  guint64 delivered;
  guint resumes;
};

#define MAX_RESUMES 3

G_DEFINE_TYPE (MvCurlStream, mv_curl_stream, G_TYPE_INPUT_STREAM)

static void stream_job_join (StreamJob *job);
static gboolean try_resume (MvCurlStream *self);

static void
join_job (MvCurlStream *self)
{
  /* Unblocks a writer that waits on a full socket, then waits for the thread. */
  if (self->job != NULL)
    stream_job_join (self->job);
}

static gssize
mv_curl_stream_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                     GError **error)
{
  MvCurlStream *self = MV_CURL_STREAM (stream);
  StreamJob *job = self->job;

  for (;;)
    {
      ssize_t n = recv (job->sock_read, buffer, count, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          mv_throw_errno_prefix (error, "%s", job->url);
          return -1;
        }
      if (n > 0)
        {
          self->delivered += n;
          return n;
        }
      /* End of the body: was it the whole transfer? */
      join_job (self);
      if (job->t.result != CURLE_OK)
        {
          int code = io_error_code (job->t.result);
          if ((code == G_IO_ERROR_CONNECTION_CLOSED || code == G_IO_ERROR_TIMED_OUT)
              && !job->t.send_failed && !transfer_hit_deadline (&job->t) && try_resume (self))
            {
              job = self->job;
              continue;
            }
          throw_curl (&job->t, job->url, error);
          return -1;
        }
      return 0;
    }
}

static gboolean
mv_curl_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  join_job (MV_CURL_STREAM (stream));
  return TRUE;
}

static void
mv_curl_stream_finalize (GObject *object)
{
  MvCurlStream *self = MV_CURL_STREAM (object);
  join_job (self);
  g_clear_pointer (&self->job, stream_job_unref);
  mv_http_options_clear (&self->opts);
  g_strfreev (self->headers);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (mv_curl_stream_parent_class)->finalize (object);
}

static void
mv_curl_stream_class_init (MvCurlStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mv_curl_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = mv_curl_stream_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = mv_curl_stream_close;
}

static void
mv_curl_stream_init (MvCurlStream *self)
{
}

/* Starts a transfer and waits for its response headers. */
static StreamJob *
stream_job_start (const MvHttpOptions *opts, const char *url, const char *const *headers,
                  const char *extra, gint64 deadline, GCancellable *cancellable, GError **error)
{
  StreamJob *job = g_new0 (StreamJob, 1);
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      g_free (job);
      mv_throw_errno_prefix (error, "socketpair");
      return NULL;
    }
  transfer_init (&job->t, response_new (), ERROR_BODY_MAX, sv[1], deadline, cancellable);
  job->sock_read = sv[0];
  job->url = g_strdup (url);
  job->list = make_headers (headers);
  if (extra != NULL)
    job->list = curl_slist_append (job->list, extra);
  job->curl = setup (opts, url, job->list, &job->t, &job->w);
  job->refs = 1;
  if (job->curl == NULL)
    {
      stream_job_unref (job);
      mv_throw (error, MV_ERROR_FAILED, "curl_easy_init failed");
      return NULL;
    }
  job->thread = g_thread_new ("mv-http", stream_thread, job);
  g_mutex_lock (&job->t.mutex);
  while (!job->t.headers_done)
    g_cond_wait (&job->t.cond, &job->t.mutex);
  g_mutex_unlock (&job->t.mutex);
  return job;
}

static void
stream_job_join (StreamJob *job)
{
  if (job->thread == NULL)
    return;
  shutdown (job->sock_read, SHUT_RD);
  g_thread_join (job->thread);
  job->thread = NULL;
}

/* After a transfer broke at byte N: ask for the rest. Only a 206 whose Content-Range starts
 * exactly at N continues the same stream; anything else leaves the failure to the caller,
 * which starts the blob over (with a fresh digest). */
static gboolean
try_resume (MvCurlStream *self)
{
  g_autofree char *range = g_strdup_printf ("Range: bytes=%" G_GUINT64_FORMAT "-", self->delivered);
  g_autofree char *want = g_strdup_printf ("bytes %" G_GUINT64_FORMAT "-", self->delivered);
  StreamJob *job;
  const char *cr;

  if (self->delivered == 0 || self->resumes >= MAX_RESUMES
      || g_cancellable_is_cancelled (self->cancellable) || mv_http_deadline_passed (self->deadline))
    return FALSE;
  self->resumes++;
  job = stream_job_start (&self->opts, self->job->url, (const char *const *)self->headers, range,
                          self->deadline, self->cancellable, NULL);
  if (job == NULL)
    return FALSE;
  cr = g_hash_table_lookup (job->t.resp->headers, "content-range");
  if (job->t.resp->status != 206 || cr == NULL || !g_str_has_prefix (cr, want))
    {
      g_debug ("%s: no exact 206 for a resume at %" G_GUINT64_FORMAT " (HTTP %ld)", job->url,
               self->delivered, job->t.resp->status);
      stream_job_join (job);
      stream_job_unref (job);
      return FALSE;
    }
  g_debug ("%s: resumed at byte %" G_GUINT64_FORMAT, job->url, self->delivered);
  stream_job_unref (self->job);
  self->job = job;
  return TRUE;
}

GInputStream *
mv_http_get_stream (const MvHttpOptions *opts, const char *url, const char *const *headers,
                    gint64 deadline, MvHttpResponse **out_resp, GCancellable *cancellable,
                    GError **error)
{
  g_autoptr (MvCurlStream) stream = NULL;
  StreamJob *job = stream_job_start (opts, url, headers, NULL, deadline, cancellable, error);

  if (job == NULL)
    return NULL;
  stream = g_object_new (MV_TYPE_CURL_STREAM, NULL);
  stream->job = job;
  stream->opts.tls_verify = opts->tls_verify;
  stream->opts.ca_pem = opts->ca_pem ? g_bytes_ref (opts->ca_pem) : NULL;
  stream->opts.client_cert = g_strdup (opts->client_cert);
  stream->opts.client_key = g_strdup (opts->client_key);
  stream->opts.connect_timeout = opts->connect_timeout;
  stream->opts.low_speed_time = opts->low_speed_time;
  stream->opts.low_speed_limit = opts->low_speed_limit;
  stream->deadline = deadline;
  stream->headers = g_strdupv ((char **)headers);
  stream->cancellable = cancellable ? g_object_ref (cancellable) : NULL;

  if (job->t.resp->status != 200)
    {
      /* Not a body to stream: let the transfer finish into the capped buffer. */
      join_job (stream);
      if (job->t.result != CURLE_OK && !job->t.overflow)
        {
          throw_curl (&job->t, url, error);
          return NULL;
        }
      job->t.resp->body = g_byte_array_free_to_bytes (g_steal_pointer (&job->t.body));
      *out_resp = g_steal_pointer (&job->t.resp);
      return NULL;
    }
  *out_resp = response_new ();
  (*out_resp)->status = job->t.resp->status;
  (*out_resp)->url = g_strdup (job->t.resp->url);
  {
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init (&it, job->t.resp->headers);
    while (g_hash_table_iter_next (&it, &k, &v))
      g_hash_table_insert ((*out_resp)->headers, g_strdup (k), g_strdup (v));
  }
  return G_INPUT_STREAM (g_steal_pointer (&stream));
}
