/* SPDX-License-Identifier: MIT */
/*
 * iovamap/iovamap.h - everything, for programs that want one include.
 */
#ifndef IOVAMAP_IOVAMAP_H
#define IOVAMAP_IOVAMAP_H

#include "iovamap/export.h"
#include "iovamap/status.h"
#include "iovamap/types.h"
#include "iovamap/domain.h"
#include "iovamap/map.h"
#include "iovamap/reserve.h"
#include "iovamap/flush.h"
#include "iovamap/thread.h"
#include "iovamap/swiommu.h"
#include "iovamap/vfio.h"

#endif /* IOVAMAP_IOVAMAP_H */
