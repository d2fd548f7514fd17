/* mv-http: libcurl for the registry client. The only file that includes <curl/curl.h> is
 * mv-http.c. Bodies are capped; streams come through a socketpair fed by a transfer thread.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

typedef struct
{
  gboolean tls_verify; /* FALSE: no certificate check (an insecure registry) */
  GBytes *ca_pem;    /* nullable: extra CAs (the .crt files of certs.d/HOST), PEM, for this host */
  char *client_cert; /* nullable: the .cert file of certs.d/HOST */
  char *client_key;  /* nullable: the .key file of certs.d/HOST */
  long connect_timeout; /* seconds */
  long low_speed_time;  /* seconds below @low_speed_limit before giving up (0: 60) */
  long low_speed_limit; /* bytes per second (0: 1024) */
} MvHttpOptions;

void mv_http_options_clear (MvHttpOptions *opts);

typedef struct
{
  long status;
  char *url;           /* the final URL */
  GHashTable *headers; /* lowercased name -> value (the last one) */
  GBytes *body;        /* capped; NULL for streams */
} MvHttpResponse;

void mv_http_response_free (MvHttpResponse *resp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvHttpResponse, mv_http_response_free)

/**
 * mv_http_get:
 * @headers: (nullable) (array zero-terminated=1): "Name: value" request headers
 * @max_body: the body cap; a longer body fails with MV_ERROR_LIMIT_EXCEEDED
 * @deadline: monotonic time (g_get_monotonic_time()) by which the whole transfer must be
 *   done, or 0 for none
 * GET with no redirect following (callers decide on redirects). Any HTTP status is returned;
 * transport failures are G_IO_ERROR: CONNECTION_REFUSED, TIMED_OUT (the low-speed limit) and
 * CONNECTION_CLOSED for what may work on another try, FAILED (TLS, protocol) for what will
 * not. A passed @deadline is MV_ERROR_LIMIT_EXCEEDED: final, like the body cap.
 */
MvHttpResponse *mv_http_get (const MvHttpOptions *opts, const char *url, const char *const *headers,
                             gsize max_body, gint64 deadline, GCancellable *cancellable,
                             GError **error);

/**
 * mv_http_head:
 * mv_http_get() as a HEAD request: the status and headers, no body.
 */
MvHttpResponse *mv_http_head (const MvHttpOptions *opts, const char *url,
                              const char *const *headers, gint64 deadline,
                              GCancellable *cancellable, GError **error);

/**
 * mv_http_get_stream:
 * Starts a GET and returns once the response headers are in: @out_resp has the status and
 * headers; the returned stream yields the body. Only for status 200 (else the body is read,
 * capped, into @out_resp->body and NULL is returned with no error set). A transfer that
 * breaks or stalls is resumed with Range (an exact 206 only) while @deadline allows.
 */
GInputStream *mv_http_get_stream (const MvHttpOptions *opts, const char *url,
                                  const char *const *headers, gint64 deadline,
                                  MvHttpResponse **out_resp, GCancellable *cancellable,
                                  GError **error);

/** mv_http_deadline_passed: TRUE if @deadline (monotonic, 0: none) is over */
gboolean mv_http_deadline_passed (gint64 deadline);

/**
 * mv_http_retry_after_ms:
 * The wait a Retry-After header of @resp asks for: delay-seconds or an HTTP-date, at most
 * @max_ms. Returns: milliseconds, or 0 when there is no header, the date has passed, or the
 * value is not understood (callers then use their own backoff)
 */
guint64 mv_http_retry_after_ms (const MvHttpResponse *resp, guint64 max_ms);
