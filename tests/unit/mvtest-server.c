/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mvtest-server.h"

gboolean
mvtest_send_all (int fd, const void *buf, gsize len)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t k = send (fd, p, len, MSG_NOSIGNAL);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return FALSE;
      p += k;
      len -= k;
    }
  return TRUE;
}

gboolean
mvtest_send_str (int fd, const char *s)
{
  return mvtest_send_all (fd, s, strlen (s));
}

/* Waits until the client closes the connection, the server stops, or @max_ms pass. */
void
mvtest_server_stall (MvTestServer *s, int fd, int max_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)max_ms * 1000;
  for (;;)
    {
      struct pollfd p[2] = { { fd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 } };
      gint64 left = (end - g_get_monotonic_time ()) / 1000;
      char c[256];
      if (left <= 0 || poll (p, 2, (int)left) <= 0 || p[1].revents)
        return;
      if (recv (fd, c, sizeof c, 0) <= 0)
        return;
    }
}

static char *
read_head (MvTestServer *s, int fd)
{
  g_autoptr (GString) head = g_string_new (NULL);
  while (strstr (head->str, "\r\n\r\n") == NULL && head->len < 64 * 1024)
    {
      struct pollfd p[2] = { { fd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 } };
      char buf[1024];
      ssize_t n;
      if (poll (p, 2, 5000) <= 0 || p[1].revents)
        return NULL;
      n = recv (fd, buf, sizeof buf, 0);
      if (n <= 0)
        return NULL;
      g_string_append_len (head, buf, n);
      if (head->str[0] == 0x16)
        break; /* a TLS ClientHello: the handler answers it with whatever it sends */
    }
  return g_string_free (g_steal_pointer (&head), FALSE);
}

static gpointer
server_thread (gpointer data)
{
  MvTestServer *s = data;
  for (guint index = 0;; index++)
    {
      struct pollfd p[2] = { { s->listen_fd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 } };
      g_autofree char *head = NULL;
      int fd;

      if (poll (p, 2, -1) < 0 || p[1].revents)
        return NULL;
      fd = accept4 (s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd < 0)
        continue;
      head = read_head (s, fd);
      if (head != NULL)
        {
          g_mutex_lock (&s->mutex);
          g_ptr_array_add (s->requests, g_strdup (head));
          g_mutex_unlock (&s->mutex);
          s->handler (s, index, head, fd);
        }
      shutdown (fd, SHUT_WR);
      close (fd);
    }
}

int
mvtest_listen_local (guint16 *out_port)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *)&a, sizeof a), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *)&a, &len), ==, 0);
  *out_port = ntohs (a.sin_port);
  return fd;
}

MvTestServer *
mvtest_server_new (MvTestHandler handler, gconstpointer data)
{
  MvTestServer *s = g_new0 (MvTestServer, 1);

  s->listen_fd = mvtest_listen_local (&s->port);
  g_assert_cmpint (listen (s->listen_fd, 16), ==, 0);
  g_assert_cmpint (pipe2 (s->wake, O_CLOEXEC), ==, 0);
  s->handler = handler;
  s->data = data;
  g_mutex_init (&s->mutex);
  s->requests = g_ptr_array_new_with_free_func (g_free);
  s->thread = g_thread_new ("test-server", server_thread, s);
  return s;
}

void
mvtest_server_free (MvTestServer *s)
{
  g_assert_cmpint (write (s->wake[1], "x", 1), ==, 1);
  g_thread_join (s->thread);
  close (s->listen_fd);
  close (s->wake[0]);
  close (s->wake[1]);
  g_ptr_array_unref (s->requests);
  g_mutex_clear (&s->mutex);
  g_free (s);
}
