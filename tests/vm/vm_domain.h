/* SPDX-License-Identifier: MIT */
/*
 * vm_domain.h - the VFIO domain every guest program of the vm suite makes:
 * a Translate domain over edu's 28-bit DMA reach (Buddy allocator, explicit
 * addresses allowed) on the VFIO backend, with the given map path and flush
 * mode; and the two things every such program does first or most: find
 * the edu device to drive, and check a call's status.
 */
#ifndef IVM_TESTS_VM_DOMAIN_H
#define IVM_TESTS_VM_DOMAIN_H

#include <stdbool.h>

#include <iovamap/iovamap.h>

#include "edu.h"
#include "vmtest.h"

/* edu masks DMA addresses to 28 bits. */
#define VM_DOMAIN_WIDTH 28u

static inline ivm_status vm_make_domain(enum ivm_vfio_map_path path,
					enum ivm_flush_mode mode,
					struct ivm_domain **out)
{
	struct ivm_allocator_config alloc = {
		.type = IVM_ALLOCATOR_BUDDY,
		.address_width = VM_DOMAIN_WIDTH,
		.flags = IVM_ALLOCATOR_ALLOW_EXPLICIT,
	};
	struct ivm_vfio_config vfio = { .map_path = path };
	struct ivm_domain_config cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = &alloc,
		.backend = IVM_BACKEND_VFIO,
		.vfio = &vfio,
		.flush_mode = mode,
	};

	return ivm_domain_create(&cfg, out);
}

/* The edu device to drive: argv[1] (run-vm.sh passes it), else the first
 * one in sysfs; no edu is fatal. */
static inline const char *vm_edu_bdf(int argc, char **argv)
{
	static char found[64];

	if (argc > 1)
		return argv[1];
	if (edu_find(found, sizeof(found)))
		vmtest_fatal("no edu device (1234:11e8)");
	return found;
}

/* CHECK got == want, reported with the status names and, for an
 * unexpected failure, its detail (a success leaves the detail of some
 * earlier failure, so none is shown then). */
static inline bool vm_check_status(const char *group, const char *name,
				   ivm_status got, ivm_status want)
{
	if (got == want)
		return vmtest_checkf(true, group, name, "%s", ivm_status_name(got));
	return vmtest_checkf(false, group, name, "got %s, want %s (detail: %s)",
			     ivm_status_name(got), ivm_status_name(want),
			     got == IVM_STATUS_SUCCESS ? "-" : ivm_status_detail());
}

#endif /* IVM_TESTS_VM_DOMAIN_H */
