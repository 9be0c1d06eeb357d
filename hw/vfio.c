/* SPDX-License-Identifier: MIT */
/*
 * vfio.c - the VFIO backend (placeholder: the implementation follows).
 */
#include "backend.h"
#include "util.h"

static ivm_status vfio_create(struct ivm_domain *domain,
			      const struct ivm_domain_config *config,
			      struct ivm_backend **out)
{
	ivm_set_status_detail("the VFIO backend is not implemented yet");
	return IVM_STATUS_NOT_SUPPORTED;
}

const struct ivm_backend_ops ivm_vfio_ops = {
	.name = "vfio",
	.create = vfio_create,
};
