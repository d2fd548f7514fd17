/* The names of layer formats, shared by the store (commit metadata) and the model (inspect).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "mv-store-private.h"

const char *
mv_layer_format_to_string (MvLayerFormat format)
{
  switch (format)
    {
      case MV_LAYER_FORMAT_RAW:
        return "raw";
      case MV_LAYER_FORMAT_TAR:
        return "tar";
      case MV_LAYER_FORMAT_TAR_GZIP:
        return "tar+gzip";
      case MV_LAYER_FORMAT_TAR_ZSTD:
        return "tar+zstd";
      default:
        return "unknown";
    }
}
