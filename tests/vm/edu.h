/* SPDX-License-Identifier: MIT */
/*
 * edu.h - a minimal user-space driver for QEMU's "edu" PCI device
 * (1234:11e8, QEMU docs/specs/edu.txt) over a VFIO device file descriptor.
 *
 * edu has a DMA engine that moves bytes between PCI (an IOVA, translated
 * by the IOMMU) and a 4 KiB buffer inside the device at EDU_DMA_BUFFER.
 * The VM tests use it as a device whose DMA obeys the domain's mappings:
 * write a pattern from the device buffer to an IOVA and see where it
 * lands; read an IOVA into the device buffer and write it back out to a
 * buffer the test can inspect.
 *
 * Limits of the device (QEMU 7.2, Debian 12), enforced here:
 *  1. A transfer must end strictly below EDU_DMA_BUFFER + 0x1000: QEMU
 *     7.2's range check is off by one and a violation aborts the whole VM.
 *     So one DMA moves at most EDU_DMA_MAX (2 KiB) from the buffer's start.
 *  2. edu masks DMA addresses to its 28-bit DMA mask: an IOVA at or above
 *     EDU_IOVA_LIMIT would silently hit another address.  Refused here.
 *  3. Each DMA completes about 100 ms of virtual time after it starts (a
 *     QEMU timer), whatever its size: tests must keep their DMA count low.
 *  4. Without PCI_COMMAND bus mastering DMA silently goes nowhere;
 *     edu_open enables it.
 * A DMA the IOMMU blocks still "completes": writes never land, reads
 * deliver zeros (and the guest kernel logs a DMAR fault).
 *
 * Context: single-threaded test programs; no locking.
 */
#ifndef IVM_TESTS_VM_EDU_H
#define IVM_TESTS_VM_EDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDU_VENDOR_ID     0x1234u
#define EDU_DEVICE_ID     0x11e8u
#define EDU_ID_VALUE      0x010000edu /* register 0x00: version 1.0 */

#define EDU_DMA_BUFFER    0x40000u    /* device-side address of the buffer */
#define EDU_DMA_MAX       2048u       /* bytes per DMA (limit 1 above) */
#define EDU_IOVA_LIMIT    (1ull << 28) /* limit 2: IOVAs must stay below */

struct edu {
	int fd;                  /* the VFIO device fd; not owned */
	volatile uint8_t *bar0;  /* BAR0 mmap, or NULL: pread/pwrite */
	uint64_t bar0_size;
	uint64_t bar0_offset;    /* BAR0's offset in the device fd */
	uint64_t config_offset;  /* configuration space's offset */
	uint64_t dma_count;      /* DMAs started so far */
};

/*
 * edu_find - the first PCI device 1234:11e8 in sysfs.
 *
 * Writes "DDDD:BB:DD.F" into @bdf (at least 16 bytes).  Returns 0, or -1
 * when there is none.
 */
int edu_find(char *bdf, size_t size);

/*
 * edu_open - take a VFIO device fd of an edu device: look up BAR0 and the
 * configuration space, mmap BAR0 (pread/pwrite when it cannot be mapped or
 * when EDU_NO_MMAP is set in the environment), enable memory decoding and
 * bus mastering, and check the identification register.
 *
 * Returns 0, or -1 with a message in @err (errno kept where it applies).
 * The fd stays the caller's.
 */
int edu_open(struct edu *edu, int device_fd, char *err, size_t err_size);

/* edu_close - unmap BAR0.  The fd stays open; NULL-safe. */
void edu_close(struct edu *edu);

/* Register access through BAR0; -1 (all ones) from edu_read32 when a
 * pread fails. */
uint32_t edu_read32(struct edu *edu, uint32_t offset);
void edu_write32(struct edu *edu, uint32_t offset, uint32_t value);

/*
 * edu_set_bus_master - turn PCI_COMMAND's bus-master bit on or off.
 * Returns 0 or -1 (errno set).
 */
int edu_set_bus_master(struct edu *edu, bool on);

/*
 * edu_dma_read - the device reads @len bytes at @iova into its buffer
 * (PCI -> device).  edu_dma_write - the device writes the first @len bytes
 * of its buffer to @iova (device -> PCI).
 *
 * @len: 1..EDU_DMA_MAX.  @iova + @len must not pass EDU_IOVA_LIMIT.
 *
 * Both wait until the engine is idle again (about 100 ms; a 10 s timeout
 * guards a wedged device).  Returns 0 when the transfer completed (which
 * does not mean the IOMMU let it through), -1 with errno EINVAL for
 * arguments outside the limits above, ETIMEDOUT when the engine never
 * finished.
 */
int edu_dma_read(struct edu *edu, uint64_t iova, uint32_t len);
int edu_dma_write(struct edu *edu, uint64_t iova, uint32_t len);

#endif /* IVM_TESTS_VM_EDU_H */
