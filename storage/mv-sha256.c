/* mv-sha256: SHA-256 (FIPS 180-4) on the x86 SHA extensions, one or two streams per loop.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-sha256-private.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SHA_EXT 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const guint32 initial_state[8] = {
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#ifdef HAVE_SHA_EXT

#define TARGET __attribute__ ((target ("sha,sse4.1,ssse3")))

static const guint32 round_constants[64] __attribute__ ((aligned (16))) = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* SHA256RNDS2 works on the state as two vectors: ABEF and CDGH (A in the top lane). */
typedef struct
{
  __m128i abef;
  __m128i cdgh;
} Lanes;

TARGET static inline Lanes
state_load (const guint32 *h)
{
  __m128i dcba = _mm_shuffle_epi32 (_mm_loadu_si128 ((const __m128i *)h), 0xB1);
  __m128i efgh = _mm_shuffle_epi32 (_mm_loadu_si128 ((const __m128i *)(h + 4)), 0x1B);
  Lanes s;

  s.abef = _mm_alignr_epi8 (dcba, efgh, 8);
  s.cdgh = _mm_blend_epi16 (efgh, dcba, 0xF0);
  return s;
}

TARGET static inline void
state_store (guint32 *h, Lanes s)
{
  __m128i feba = _mm_shuffle_epi32 (s.abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32 (s.cdgh, 0xB1);

  _mm_storeu_si128 ((__m128i *)h, _mm_blend_epi16 (feba, dchg, 0xF0));
  _mm_storeu_si128 ((__m128i *)(h + 4), _mm_alignr_epi8 (dchg, feba, 8));
}

/* The big-endian words of a block, four per vector. */
TARGET static inline void
load_block (__m128i w[4], const guint8 *p)
{
  const __m128i bswap = _mm_set_epi64x (0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);

  for (int i = 0; i < 4; i++)
    w[i] = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *)(p + 16 * i)), bswap);
}

/* Message words 4g..4g+3 in w[g % 4]: loaded for g < 4, else the schedule
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time. */
TARGET static inline __m128i
schedule (__m128i w[4], int g)
{
  __m128i x;

  if (g < 4)
    return w[g];
  x = _mm_sha256msg1_epu32 (w[g & 3], w[(g - 3) & 3]);
  x = _mm_add_epi32 (x, _mm_alignr_epi8 (w[(g - 1) & 3], w[(g - 2) & 3], 4));
  w[g & 3] = _mm_sha256msg2_epu32 (x, w[(g - 1) & 3]);
  return w[g & 3];
}

/* Four rounds: two per SHA256RNDS2, the vectors trading the ABEF and CDGH roles. */
TARGET static inline void
rounds (Lanes *s, __m128i words, int g)
{
  __m128i m = _mm_add_epi32 (words, _mm_load_si128 ((const __m128i *)&round_constants[4 * g]));

  s->cdgh = _mm_sha256rnds2_epu32 (s->cdgh, s->abef, m);
  s->abef = _mm_sha256rnds2_epu32 (s->abef, s->cdgh, _mm_shuffle_epi32 (m, 0x0E));
}

TARGET static void
blocks1 (guint32 *h, const guint8 *p, gsize n)
{
  Lanes s = state_load (h);

  for (; n > 0; n--, p += 64)
    {
      Lanes saved = s;
      __m128i w[4];

      load_block (w, p);
#pragma GCC unroll 16
      for (int g = 0; g < 16; g++)
        rounds (&s, schedule (w, g), g);
      s.abef = _mm_add_epi32 (s.abef, saved.abef);
      s.cdgh = _mm_add_epi32 (s.cdgh, saved.cdgh);
    }
  state_store (h, s);
}

/* Two streams in one loop: their rounds are independent, so the CPU overlaps them. */
TARGET static void
blocks2 (guint32 *ha, const guint8 *pa, guint32 *hb, const guint8 *pb, gsize n)
{
  Lanes a = state_load (ha);
  Lanes b = state_load (hb);

  for (; n > 0; n--, pa += 64, pb += 64)
    {
      Lanes saved_a = a, saved_b = b;
      __m128i wa[4], wb[4];

      load_block (wa, pa);
      load_block (wb, pb);
#pragma GCC unroll 16
      for (int g = 0; g < 16; g++)
        {
          __m128i xa = schedule (wa, g);
          __m128i xb = schedule (wb, g);
          rounds (&a, xa, g);
          rounds (&b, xb, g);
        }
      a.abef = _mm_add_epi32 (a.abef, saved_a.abef);
      a.cdgh = _mm_add_epi32 (a.cdgh, saved_a.cdgh);
      b.abef = _mm_add_epi32 (b.abef, saved_b.abef);
      b.cdgh = _mm_add_epi32 (b.cdgh, saved_b.cdgh);
    }
  state_store (ha, a);
  state_store (hb, b);
}

static gboolean
cpu_has_sha_ext (void)
{
  unsigned int eax, ebx, ecx, edx;

  if (!__get_cpuid (1, &eax, &ebx, &ecx, &edx))
    return FALSE;
  if (!(ecx & bit_SSSE3) || !(ecx & bit_SSE4_1))
    return FALSE;
  if (!__get_cpuid_count (7, 0, &eax, &ebx, &ecx, &edx))
    return FALSE;
  return (ebx & bit_SHA) != 0;
}

gboolean
mv_sha256_accelerated (void)
{
  static gsize once = 0;
  static gboolean accelerated;

  if (g_once_init_enter (&once))
    {
      accelerated
          = cpu_has_sha_ext () && g_strcmp0 (g_getenv ("MODELVOL_TEST_NO_SHA_EXT"), "1") != 0;
      g_once_init_leave (&once, 1);
    }
  return accelerated;
}

#else /* !HAVE_SHA_EXT */

static void
blocks1 (guint32 *h, const guint8 *p, gsize n)
{
  g_assert_not_reached ();
}

static void
blocks2 (guint32 *ha, const guint8 *pa, guint32 *hb, const guint8 *pb, gsize n)
{
  g_assert_not_reached ();
}

gboolean
mv_sha256_accelerated (void)
{
  return FALSE;
}

#endif

void
mv_sha256_init (MvSha256 *s)
{
  memcpy (s->h, initial_state, sizeof s->h);
  s->fill = 0;
  s->total = 0;
}

/* Completes a partly filled block from @p; returns the bytes taken. */
static gsize
fill_block (MvSha256 *s, const guint8 *p, gsize len)
{
  gsize n;

  if (s->fill == 0)
    return 0;
  n = MIN (len, 64 - s->fill);
  memcpy (s->buf + s->fill, p, n);
  s->fill += n;
  if (s->fill == 64)
    {
      blocks1 (s->h, s->buf, 1);
      s->fill = 0;
    }
  return n;
}

/* Keeps the last bytes (fewer than a block) for later. */
static void
keep_tail (MvSha256 *s, const guint8 *p, gsize len)
{
  if (len == 0)
    return;
  g_assert (s->fill == 0 && len < 64);
  memcpy (s->buf, p, len);
  s->fill = len;
}

void
mv_sha256_update (MvSha256 *s, const void *data, gsize len)
{
  const guint8 *p = data;
  gsize off, n;

  s->total += len;
  off = fill_block (s, p, len);
  n = (len - off) / 64;
  blocks1 (s->h, p + off, n);
  keep_tail (s, p + off + 64 * n, len - off - 64 * n);
}

void
mv_sha256_update2 (MvSha256 *a, MvSha256 *b, const void *data, gsize len)
{
  const guint8 *p = data;
  gsize off_a, off_b, na, nb, both;

  a->total += len;
  b->total += len;
  /* Each stream first completes its own partial block; then their whole blocks start at
   * different offsets in @data, and are hashed in pairs as far as both have them. */
  off_a = fill_block (a, p, len);
  off_b = fill_block (b, p, len);
  na = (len - off_a) / 64;
  nb = (len - off_b) / 64;
  both = MIN (na, nb);
  blocks2 (a->h, p + off_a, b->h, p + off_b, both);
  blocks1 (a->h, p + off_a + 64 * both, na - both);
  blocks1 (b->h, p + off_b + 64 * both, nb - both);
  keep_tail (a, p + off_a + 64 * na, len - off_a - 64 * na);
  keep_tail (b, p + off_b + 64 * nb, len - off_b - 64 * nb);
}

void
mv_sha256_final (MvSha256 *s, guint8 out[32])
{
  guint8 pad[128] = { 0 };
  gsize pad_len = s->fill < 56 ? 64 : 128;
  guint64 bits = s->total * 8;

  memcpy (pad, s->buf, s->fill);
  pad[s->fill] = 0x80;
  for (int i = 0; i < 8; i++)
    pad[pad_len - 1 - i] = (guint8)(bits >> (8 * i));
  blocks1 (s->h, pad, pad_len / 64);
  for (int i = 0; i < 8; i++)
    {
      out[4 * i] = s->h[i] >> 24;
      out[4 * i + 1] = s->h[i] >> 16;
      out[4 * i + 2] = s->h[i] >> 8;
      out[4 * i + 3] = s->h[i];
    }
}
