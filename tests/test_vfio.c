/* SPDX-License-Identifier: MIT */
/*
 * test_vfio.c - the VFIO backend on a host without VFIO (the real-device
 * checks are in the vm suite): domain creation fails cleanly with
 * NOT_SUPPORTED and a detail that says why, device attach and detach
 * validate their arguments in the documented order, and a failed
 * creation leaves the caller's thread as it was.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iovamap/iovamap.h>

#include "check.h"

static struct ivm_allocator_config alloc_cfg = {
	.type = IVM_ALLOCATOR_BUDDY,
	.address_width = 39,
};

static ivm_status create_vfio(const struct ivm_vfio_config *vc,
			      struct ivm_domain **out)
{
	struct ivm_domain_config cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = &alloc_cfg,
		.backend = IVM_BACKEND_VFIO,
		.vfio = vc,
	};
	return ivm_domain_create(&cfg, out);
}

static struct ivm_domain *create_swiommu(void)
{
	struct ivm_domain_config cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = &alloc_cfg,
	};
	struct ivm_domain *d = NULL;
	CHECK_STATUS(ivm_domain_create(&cfg, &d), IVM_STATUS_SUCCESS);
	return d;
}

IVM_TEST(detail_starts_empty)
{
	CHECK(ivm_status_detail() != NULL);
	CHECK(strcmp(ivm_status_detail(), "") == 0);
}

IVM_TEST(no_vfio_directory_is_not_supported)
{
	struct ivm_vfio_config vc = { .dev_dir = "/nonexistent/ivm-vfio" };
	struct ivm_domain *d = (struct ivm_domain *)0x1;

	CHECK_STATUS(create_vfio(&vc, &d), IVM_STATUS_NOT_SUPPORTED);
	CHECK(d == (struct ivm_domain *)0x1); /* untouched */
#if IVM_TEST_HAVE_VFIO
	/* The detail names the missing node. */
	CHECK(strstr(ivm_status_detail(), "/nonexistent/ivm-vfio/vfio"));
#else
	CHECK(strstr(ivm_status_detail(), "without DPDK"));
#endif
	/* The same on the default path, unless this host has VFIO. */
	if (access("/dev/vfio/vfio", F_OK) != 0) {
		CHECK_STATUS(create_vfio(NULL, &d), IVM_STATUS_NOT_SUPPORTED);
		CHECK(d == (struct ivm_domain *)0x1);
		CHECK(strlen(ivm_status_detail()) > 0);
	}
}

IVM_TEST(bad_map_path_is_invalid_parameter)
{
	struct ivm_vfio_config vc = { .map_path = (enum ivm_vfio_map_path)7 };
	struct ivm_domain *d = NULL;

	CHECK_STATUS(create_vfio(&vc, &d), IVM_STATUS_INVALID_PARAMETER);
	CHECK(d == NULL);
}

#if IVM_TEST_HAVE_VFIO && !IVM_TEST_SANITIZING
/*
 * A directory with a "vfio" node gets past the probe, so DPDK's EAL is
 * initialised in this process (by iovamap, since the test did not), and
 * then the container cannot be made: still NOT_SUPPORTED, and the calling
 * thread keeps the CPU affinity it had (EAL pins its main thread).
 */
IVM_TEST(eal_started_for_the_caller_and_affinity_kept)
{
	char dir[] = "/tmp/ivm-vfio-XXXXXX";
	char node[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(node, sizeof(node), "%s/vfio", dir);
	FILE *f = fopen(node, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);

	cpu_set_t before, after;
	CHECK(sched_getaffinity(0, sizeof(before), &before) == 0);
	struct ivm_vfio_config vc = { .dev_dir = dir };
	struct ivm_domain *d = NULL;
	CHECK_STATUS(create_vfio(&vc, &d), IVM_STATUS_NOT_SUPPORTED);
	CHECK(d == NULL);
	CHECK(strstr(ivm_status_detail(), "rte_vfio_container_create"));
	CHECK(sched_getaffinity(0, sizeof(after), &after) == 0);
	CHECK(CPU_EQUAL(&before, &after));
	/* A second domain finds the EAL ready and fails the same way. */
	CHECK_STATUS(create_vfio(&vc, &d), IVM_STATUS_NOT_SUPPORTED);
	unlink(node);
	rmdir(dir);
}
#endif

IVM_TEST(attach_argument_order)
{
	struct ivm_domain *d = create_swiommu();
	struct ivm_vfio_device dev = { .fd = -7 };

	CHECK_STATUS(ivm_domain_attach_device(NULL, "0000:00:03.0", &dev),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_domain_attach_device(d, NULL, &dev),
		     IVM_STATUS_INVALID_PARAMETER_2);
	static const char *const bad[] = {
		"", "0000:00:03", "0000:00:03.0 ", "0000-00:03.0",
		"000g:00:03.0", "0000:00:03.8", "00:03.0", "0000:00:3.0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_STATUS(ivm_domain_attach_device(d, bad[i], &dev),
			     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_domain_attach_device(d, "0000:00:03.0", NULL),
		     IVM_STATUS_INVALID_PARAMETER_3);
	/* The software model has no devices to attach. */
	CHECK_STATUS(ivm_domain_attach_device(d, "0000:00:03.0", &dev),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK_STATUS(ivm_domain_attach_device(d, "ABCD:ef:1F.7", &dev),
		     IVM_STATUS_NOT_SUPPORTED);
	CHECK(dev.fd == -7); /* untouched on failure */
	ivm_domain_destroy(&d);
}

IVM_TEST(detach_argument_order)
{
	struct ivm_domain *d = create_swiommu();

	CHECK_STATUS(ivm_domain_detach_device(NULL, "0000:00:03.0"),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK_STATUS(ivm_domain_detach_device(d, "0000:00:03"),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_domain_detach_device(d, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK_STATUS(ivm_domain_detach_device(d, "0000:00:03.0"),
		     IVM_STATUS_NOT_SUPPORTED);
	ivm_domain_destroy(&d);
}

/* A failure with a detail: a VFIO domain where there is no VFIO. */
static void fail_with_detail(void)
{
	struct ivm_vfio_config vc = { .dev_dir = "/nonexistent/ivm-vfio" };
	struct ivm_domain *d = NULL;

	CHECK_STATUS(create_vfio(&vc, &d), IVM_STATUS_NOT_SUPPORTED);
	CHECK(strlen(ivm_status_detail()) > 0);
}

/* status.h: right after a failed call the detail is that call's or "";
 * an older call's never stays behind. */
IVM_TEST(a_failure_without_detail_clears_an_older_one)
{
	struct ivm_domain *d = create_swiommu();
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER,
				 .buffer = { .va = (void *)0x10000,
					     .size = 4096 } };
	struct ivm_swdev *dev = NULL;
	ivm_la la = 0;
	uint64_t pa;
	char byte;

	fail_with_detail();
	CHECK_STATUS(ivm_map_logical_range_ex(NULL, 0, &phys, NULL, NULL, NULL,
					      &la),
		     IVM_STATUS_INVALID_PARAMETER_1);
	CHECK(strcmp(ivm_status_detail(), "") == 0);

	/* The hot calls clear it on their failure paths. */
	fail_with_detail();
	CHECK_STATUS(ivm_translate(d, 0x5000, &pa, NULL),
		     IVM_STATUS_INVALID_PARAMETER_2);
	CHECK(strcmp(ivm_status_detail(), "") == 0);
	CHECK_STATUS(ivm_swdev_create(d, &dev), IVM_STATUS_SUCCESS);
	fail_with_detail();
	CHECK_STATUS(ivm_swdev_dma_read(dev, 0x5000, &byte, 1),
		     IVM_STATUS_ACCESS_VIOLATION);
	CHECK(strcmp(ivm_status_detail(), "") == 0);
	ivm_swdev_destroy(&dev);

	/* Allocator exhaustion (a window with no room), IN_USE. */
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &phys, NULL,
					      NULL, NULL, &la),
		     IVM_STATUS_SUCCESS);
	ivm_la lo = la, hi = la + 4095;
	fail_with_detail();
	CHECK_STATUS(ivm_map_logical_range_ex(d, IVM_PERM_READ, &phys, NULL,
					      &lo, &hi, &la),
		     IVM_STATUS_INSUFFICIENT_RESOURCES);
	CHECK(strcmp(ivm_status_detail(), "") == 0);
	fail_with_detail();
	CHECK_STATUS(ivm_unmap_logical_range(d, lo + 4096, 1),
		     IVM_STATUS_INVALID_PARAMETER);
	CHECK(strcmp(ivm_status_detail(), "") == 0);
	CHECK_STATUS(ivm_unmap_logical_range(d, lo, 1), IVM_STATUS_SUCCESS);
	ivm_domain_destroy(&d);
}

IVM_TEST_MAIN()
