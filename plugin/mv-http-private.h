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
  long low_speed_time;  /* seconds below 1 KiB/s before giving up */
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
 * GET with no redirect following (callers decide on redirects). Any HTTP status is returned;
 * transport failures are G_IO_ERROR: CONNECTION_REFUSED, TIMED_OUT and CONNECTION_CLOSED for
 * what may work on another try, FAILED (TLS, protocol) for what will not.
 */
MvHttpResponse *mv_http_get (const MvHttpOptions *opts, const char *url, const char *const *headers,
                             gsize max_body, GCancellable *cancellable, GError **error);

/**
 * mv_http_get_stream:
 * Starts a GET and returns once the response headers are in: @out_resp has the status and
 * headers; the returned stream yields the body. Only for status 200 (else the body is read,
 * capped, into @out_resp->body and NULL is returned with no error set).
 */
GInputStream *mv_http_get_stream (const MvHttpOptions *opts, const char *url,
                                  const char *const *headers, MvHttpResponse **out_resp,
                                  GCancellable *cancellable, GError **error);
