/* SPDX-License-Identifier: MIT */
/*
 * vm_domain.h - the VFIO domain every guest program of the vm suite makes:
 * a Translate domain over edu's 28-bit DMA reach (Buddy allocator, explicit
 * addresses allowed) on the VFIO backend, with the given map path and flush
 * mode.
 */
#ifndef IVM_TESTS_VM_DOMAIN_H
#define IVM_TESTS_VM_DOMAIN_H

#include <iovamap/iovamap.h>

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

#endif /* IVM_TESTS_VM_DOMAIN_H */
