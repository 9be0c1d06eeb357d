/* SPDX-License-Identifier: MIT */
/*
 * vm_smoke.c - the VM harness's own check, without iovamap: plain VFIO
 * type1 ioctls and the edu driver.
 *
 * It runs first in the guest so that a failure of the real tests
 * (vm_dma.c) is known to be iovamap's, not the harness's: the IOMMU is on,
 * edu is bound to vfio-pci, VFIO works, edu answers and its DMA obeys a
 * hand-made mapping (lands when mapped, blocked when unmapped).  Three DMAs.
 *
 * Usage: vm_smoke [BDF]   (default: the first 1234:11e8 device)
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edu.h"
#include "vmtest.h"

#define PAGE 4096u
#define IOVA_SOURCE 0x100000u
#define IOVA_TARGET 0x200000u

static int map_page(int container, void *va, uint64_t iova)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)va,
		.iova = iova,
		.size = PAGE,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
}

static int unmap_page(int container, uint64_t iova)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .iova = iova, .size = PAGE,
	};

	return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap);
}

static int count_nonzero(const uint8_t *p, size_t n)
{
	int count = 0;

	for (size_t i = 0; i < n; i++)
		count += p[i] != 0;
	return count;
}

int main(int argc, char **argv)
{
	char bdf[64], path[512], link[512], err[256];
	struct vfio_group_status group_status = { .argsz = sizeof(group_status) };
	struct edu edu;
	uint8_t *source, *target;
	int container, group, device;
	ssize_t len;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		snprintf(bdf, sizeof(bdf), "%s", argv[1]);
	else if (edu_find(bdf, sizeof(bdf)))
		vmtest_fatal("no edu device (1234:11e8) in /sys/bus/pci/devices");

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		vmtest_fatal("%s: %s (is the IOMMU on: intel_iommu=on?)", path,
			     strerror(errno));
	link[len] = '\0';
	vmtest_info("edu %s, IOMMU group %s", bdf, basename(link));

	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0)
		vmtest_fatal("open /dev/vfio/vfio: %s", strerror(errno));
	vmtest_check(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1,
		     "smoke", "type1v2");
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	group = open(path, O_RDWR);
	if (group < 0)
		vmtest_fatal("open %s: %s (edu not bound to vfio-pci?)", path,
			     strerror(errno));
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &group_status))
		vmtest_fatal("VFIO_GROUP_GET_STATUS: %s", strerror(errno));
	vmtest_check(group_status.flags & VFIO_GROUP_FLAGS_VIABLE, "smoke",
		     "group_viable");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		vmtest_fatal("container set-up: %s", strerror(errno));
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (device < 0)
		vmtest_fatal("VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));
	if (edu_open(&edu, device, err, sizeof(err)))
		vmtest_fatal("edu_open: %s", err);
	vmtest_checkf(true, "smoke", "edu_id_and_liveness", "BAR0 via %s",
		     edu.bar0 ? "mmap" : "pread/pwrite");

	source = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	target = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (source == MAP_FAILED || target == MAP_FAILED)
		vmtest_fatal("mmap: %s", strerror(errno));
	for (unsigned i = 0; i < PAGE; i++)
		source[i] = (uint8_t)(i * 7 + 3);
	memset(target, 0, PAGE);
	if (map_page(container, source, IOVA_SOURCE) ||
	    map_page(container, target, IOVA_TARGET))
		vmtest_fatal("VFIO_IOMMU_MAP_DMA: %s", strerror(errno));

	/* source -> device buffer -> target */
	int rc = edu_dma_read(&edu, IOVA_SOURCE, EDU_DMA_MAX);
	rc |= edu_dma_write(&edu, IOVA_TARGET, EDU_DMA_MAX);
	vmtest_check(rc == 0 && !memcmp(source, target, EDU_DMA_MAX), "smoke",
		     "dma_roundtrip");

	/* unmapped: the write must not land */
	if (unmap_page(container, IOVA_TARGET))
		vmtest_fatal("VFIO_IOMMU_UNMAP_DMA: %s", strerror(errno));
	memset(target, 0, PAGE);
	rc = edu_dma_write(&edu, IOVA_TARGET, EDU_DMA_MAX);
	vmtest_check(rc == 0 && count_nonzero(target, PAGE) == 0, "smoke",
		     "unmapped_write_blocked");

	unmap_page(container, IOVA_SOURCE);
	edu_set_bus_master(&edu, false);
	edu_close(&edu);
	close(device);
	ioctl(group, VFIO_GROUP_UNSET_CONTAINER);
	close(group);
	close(container);
	return vmtest_result();
}
