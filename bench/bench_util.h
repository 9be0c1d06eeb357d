/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - helpers shared by the C benchmark files (not by the C++
 * shim): fail loudly, and one map + unmap of a page through the public API.
 */
#ifndef IVM_BENCH_UTIL_H
#define IVM_BENCH_UTIL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "iovamap/iovamap.h"

_Noreturn static inline void die_status(const char *what, ivm_status st)
{
	fprintf(stderr, "bench: %s failed: %s (0x%08" PRIx32 ")\n", what,
		ivm_status_name(st), (uint32_t)st);
	abort();
}

/* Map phys read/write at an allocator-chosen address, then unmap it.  A
 * well-predicted branch per call: noise next to a map. */
static inline void bench_map_unmap(struct ivm_domain *domain,
				   const struct ivm_phys *phys)
{
	ivm_la la = 0;
	ivm_status st = ivm_map_logical_range_ex(domain,
						 IVM_PERM_READ | IVM_PERM_WRITE,
						 phys, NULL, NULL, NULL, &la);
	if (st != IVM_STATUS_SUCCESS)
		die_status("ivm_map_logical_range_ex", st);
	st = ivm_unmap_logical_range(domain, la, 1);
	if (st != IVM_STATUS_SUCCESS)
		die_status("ivm_unmap_logical_range", st);
}

#endif /* IVM_BENCH_UTIL_H */
