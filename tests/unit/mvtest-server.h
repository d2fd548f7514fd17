/* A real HTTP server for unit tests (test-http, test-registry): a thread on 127.0.0.1 that
 * accepts one connection at a time, records its request head and lets a handler answer it
 * with scripted bytes. Nothing of the HTTP client is mocked: libcurl talks to a socket.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

typedef struct MvTestServer MvTestServer;
/* Answers connection number @index, whose request head is @request, on @fd. */
typedef void (*MvTestHandler) (MvTestServer *s, guint index, const char *request, int fd);

struct MvTestServer
{
  int listen_fd;
  int wake[2]; /* written to stop the thread */
  guint16 port;
  GThread *thread;
  MvTestHandler handler;
  gconstpointer data; /* the handler's, as given to mvtest_server_new() */
  GMutex mutex;
  GPtrArray *requests; /* the request heads, in order */
};

/* A TCP socket bound to 127.0.0.1 on a free port (*@out_port), not yet listening. */
int mvtest_listen_local (guint16 *out_port);
MvTestServer *mvtest_server_new (MvTestHandler handler, gconstpointer data);
void mvtest_server_free (MvTestServer *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvTestServer, mvtest_server_free)
/* All of @buf to @fd (MSG_NOSIGNAL); FALSE once the peer is gone. */
gboolean mvtest_send_all (int fd, const void *buf, gsize len);
gboolean mvtest_send_str (int fd, const char *s);
/* Waits until the client closes the connection, the server stops, or @max_ms pass. */
void mvtest_server_stall (MvTestServer *s, int fd, int max_ms);
