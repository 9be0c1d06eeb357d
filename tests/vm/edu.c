/* SPDX-License-Identifier: MIT */
/*
 * edu.c - the edu driver of the VM tests (see edu.h for the device's
 * limits).  Follows QEMU's hw/misc/edu.c register layout and the recipe
 * verified in the project's VM notes (docs/vfio.md): BAR0 mmap through
 * the VFIO device fd, PCI_COMMAND through the configuration region, one
 * DMA at a time, completion by polling the command register's run bit.
 */
#include "edu.h"

#include <dirent.h>
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_REG_ID      0x00u
#define EDU_REG_LIVE    0x04u  /* reads back the bitwise inverse */
#define EDU_REG_DMA_SRC 0x80u
#define EDU_REG_DMA_DST 0x88u
#define EDU_REG_DMA_CNT 0x90u
#define EDU_REG_DMA_CMD 0x98u
#define EDU_CMD_RUN     0x1u   /* start; reads 1 while busy */
#define EDU_CMD_TO_PCI  0x2u   /* 1: buffer -> PCI, 0: PCI -> buffer */

#define EDU_DMA_TIMEOUT_NS (10ull * 1000000000ull)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_sysfs_hex(const char *dir, const char *name, unsigned *value)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%x", value) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

int edu_find(char *bdf, size_t size)
{
	DIR *dir = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int rc = -1;

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		unsigned vendor, device;

		if (e->d_name[0] == '.')
			continue;
		if (read_sysfs_hex(e->d_name, "vendor", &vendor) ||
		    read_sysfs_hex(e->d_name, "device", &device))
			continue;
		if (vendor == EDU_VENDOR_ID && device == EDU_DEVICE_ID) {
			snprintf(bdf, size, "%s", e->d_name);
			rc = 0;
			break;
		}
	}
	closedir(dir);
	return rc;
}

uint32_t edu_read32(struct edu *edu, uint32_t offset)
{
	uint32_t v;

	if (edu->bar0)
		return *(volatile uint32_t *)(edu->bar0 + offset);
	if (pread(edu->fd, &v, sizeof(v), (off_t)(edu->bar0_offset + offset)) !=
	    (ssize_t)sizeof(v))
		return UINT32_MAX;
	return v;
}

void edu_write32(struct edu *edu, uint32_t offset, uint32_t value)
{
	if (edu->bar0) {
		*(volatile uint32_t *)(edu->bar0 + offset) = value;
		return;
	}
	if (pwrite(edu->fd, &value, sizeof(value),
		   (off_t)(edu->bar0_offset + offset)) != (ssize_t)sizeof(value))
		fprintf(stderr, "edu: pwrite BAR0+0x%x: %s\n", offset,
			strerror(errno));
}

static int config_read16(struct edu *edu, uint32_t offset, uint16_t *value)
{
	return pread(edu->fd, value, 2, (off_t)(edu->config_offset + offset)) == 2
		       ? 0 : -1;
}

static int config_write16(struct edu *edu, uint32_t offset, uint16_t value)
{
	return pwrite(edu->fd, &value, 2, (off_t)(edu->config_offset + offset)) == 2
		       ? 0 : -1;
}

int edu_set_bus_master(struct edu *edu, bool on)
{
	uint16_t cmd;

	if (config_read16(edu, PCI_COMMAND, &cmd))
		return -1;
	cmd |= PCI_COMMAND_MEMORY;
	if (on)
		cmd |= PCI_COMMAND_MASTER;
	else
		cmd &= (uint16_t)~PCI_COMMAND_MASTER;
	return config_write16(edu, PCI_COMMAND, cmd);
}

int edu_open(struct edu *edu, int device_fd, char *err, size_t err_size)
{
	struct vfio_region_info bar = { .argsz = sizeof(bar),
					.index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
					.index = VFIO_PCI_CONFIG_REGION_INDEX };
	uint32_t id;

	memset(edu, 0, sizeof(*edu));
	edu->fd = device_fd;
	if (ioctl(device_fd, VFIO_DEVICE_GET_REGION_INFO, &bar)) {
		snprintf(err, err_size, "VFIO_DEVICE_GET_REGION_INFO(BAR0): %s",
			 strerror(errno));
		return -1;
	}
	if (ioctl(device_fd, VFIO_DEVICE_GET_REGION_INFO, &cfg)) {
		snprintf(err, err_size, "VFIO_DEVICE_GET_REGION_INFO(config): %s",
			 strerror(errno));
		return -1;
	}
	edu->bar0_size = bar.size;
	edu->bar0_offset = bar.offset;
	edu->config_offset = cfg.offset;
	if ((bar.flags & VFIO_REGION_INFO_FLAG_MMAP) && !getenv("EDU_NO_MMAP")) {
		void *p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       device_fd, (off_t)bar.offset);

		if (p != MAP_FAILED)
			edu->bar0 = p;
	}
	if (edu_set_bus_master(edu, true)) {
		snprintf(err, err_size, "PCI_COMMAND bus master: %s",
			 strerror(errno));
		edu_close(edu);
		return -1;
	}
	id = edu_read32(edu, EDU_REG_ID);
	if (id != EDU_ID_VALUE) {
		snprintf(err, err_size, "edu id register 0x%08x, want 0x%08x",
			 id, EDU_ID_VALUE);
		edu_close(edu);
		return -1;
	}
	edu_write32(edu, EDU_REG_LIVE, 0x12345678u);
	if (edu_read32(edu, EDU_REG_LIVE) != ~0x12345678u) {
		snprintf(err, err_size, "edu liveness register does not invert");
		edu_close(edu);
		return -1;
	}
	return 0;
}

void edu_close(struct edu *edu)
{
	if (!edu)
		return;
	if (edu->bar0)
		munmap((void *)edu->bar0, edu->bar0_size);
	edu->bar0 = NULL;
}

/* One transfer; the device side is always the start of its buffer. */
static int edu_dma(struct edu *edu, uint64_t iova, uint32_t len, bool to_pci)
{
	uint64_t start;

	if (len == 0 || len > EDU_DMA_MAX || iova >= EDU_IOVA_LIMIT ||
	    len > EDU_IOVA_LIMIT - iova) {
		errno = EINVAL;
		return -1;
	}
	/* A 32-bit write sets the whole 64-bit address register. */
	edu_write32(edu, EDU_REG_DMA_SRC, to_pci ? EDU_DMA_BUFFER : (uint32_t)iova);
	edu_write32(edu, EDU_REG_DMA_DST, to_pci ? (uint32_t)iova : EDU_DMA_BUFFER);
	edu_write32(edu, EDU_REG_DMA_CNT, len);
	edu_write32(edu, EDU_REG_DMA_CMD,
		    EDU_CMD_RUN | (to_pci ? EDU_CMD_TO_PCI : 0));
	edu->dma_count++;
	start = now_ns();
	while (edu_read32(edu, EDU_REG_DMA_CMD) & EDU_CMD_RUN) {
		if (now_ns() - start > EDU_DMA_TIMEOUT_NS) {
			errno = ETIMEDOUT;
			return -1;
		}
		usleep(1000);
	}
	return 0;
}

int edu_dma_read(struct edu *edu, uint64_t iova, uint32_t len)
{
	return edu_dma(edu, iova, len, false);
}

int edu_dma_write(struct edu *edu, uint64_t iova, uint32_t len)
{
	return edu_dma(edu, iova, len, true);
}
