/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "modelvol.h"

const char *
mv_version (void)
{
  return PACKAGE_VERSION;
}
