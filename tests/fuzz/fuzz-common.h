/* fuzz-common: what every fuzz target shares. A target is one LLVMFuzzerTestOneInput; it is
 * linked with libFuzzer (-Dfuzzing=true, clang) or with standalone-main.c, which runs the
 * files of its corpus as a regression test in the normal suite.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Criticals and warnings abort: input from outside must never reach a g_return_if_fail or a
 * g_warning (CONVENTIONS.md), so one that does is a finding. Debug messages stay quiet. */
static inline void
mv_fuzz_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
      g_once_init_leave (&done, 1);
    }
}

/* The input as a NUL-terminated string (a copy: libFuzzer's buffer has no terminator), cut at
 * the first NUL as a C caller would see it. */
static inline char *
mv_fuzz_strndup (const uint8_t *data, size_t size)
{
  return g_strndup ((const char *)data, size);
}
