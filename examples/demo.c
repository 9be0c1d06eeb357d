/* SPDX-License-Identifier: MIT */
/*
 * demo.c - iovamap in five minutes: the program to run first.
 *
 * It walks through the whole life of a DMA mapping on the software IOMMU
 * model, printing each step and the status it returned:
 *
 *   1. make a Translate domain whose logical addresses (IOVAs) come from a
 *      Buddy allocator, and attach a model device to it;
 *   2. map two buffers (one read/write, one read-only), translate them, and
 *      let the device DMA into and out of them;
 *   3. watch the IOMMU refuse a device write to the read-only buffer and
 *      report the fault;
 *   4. unmap; the lazy flush queue invalidates the IOTLB in batches, and
 *      after the flush the next DMA to that address faults;
 *   5. reserve logical space up front and map inside it;
 *   6. print the domain's counters and tear it down;
 *   7. use a domain without an allocator: explicit and identity maps.
 *
 * In the software model a "physical address" is this process's own virtual
 * address, so the device's DMA moves real bytes between real buffers.
 *
 * Every step states the status it expects; the program exits non-zero if
 * any step returns something else.
 *
 * Build and run:  meson setup build && ninja -C build &&
 *                 ./build/examples/iovamap-demo
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iovamap/iovamap.h>

static int unexpected; /* steps that returned a status other than expected */

/* Print one step and check its status.  Returns true when it matched. */
static int step(const char *what, ivm_status got, ivm_status want)
{
	int ok = got == want;

	printf("  %-58s %s%s\n", what, ivm_status_name(got),
	       ok ? "" : "   <-- UNEXPECTED");
	if (!ok) {
		printf("      (expected %s)\n", ivm_status_name(want));
		unexpected++;
	}
	return ok;
}

/* Check a plain condition (data contents, addresses). */
static void expect(const char *what, int cond)
{
	printf("  %-58s %s\n", what, cond ? "yes" : "NO   <-- UNEXPECTED");
	if (!cond)
		unexpected++;
}

static void section(const char *title)
{
	printf("\n== %s\n", title);
}

/* The fault handler: the IOMMU calls it on the thread that did the DMA. */
struct fault_log {
	unsigned count;
	struct ivm_fault last;
};

static void on_fault(void *context, const struct ivm_fault *fault)
{
	struct fault_log *log = context;

	log->count++;
	log->last = *fault;
	printf("  [fault handler] device %s at la 0x%" PRIx64 ": %s\n",
	       fault->access == IVM_PERM_WRITE ? "write" : "read",
	       fault->la,
	       fault->reason == IVM_FAULT_UNMAPPED ? "no mapping"
						   : "permission denied");
}

static void *alloc_pages(size_t pages)
{
	void *p = aligned_alloc(IVM_PAGE_SIZE, pages * IVM_PAGE_SIZE);

	if (p == NULL) {
		perror("aligned_alloc");
		exit(2);
	}
	memset(p, 0, pages * IVM_PAGE_SIZE);
	return p;
}

static struct ivm_phys buffer_of(void *va, size_t pages)
{
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER };

	phys.buffer.va = va;
	phys.buffer.size = pages * IVM_PAGE_SIZE;
	return phys;
}

static void print_stats(struct ivm_domain *domain)
{
	struct ivm_domain_stats s;

	if (!step("ivm_domain_get_stats", ivm_domain_get_stats(domain, &s),
		  IVM_STATUS_SUCCESS))
		return;
	printf("    mappings %" PRIu64 ", mapped pages %" PRIu64
	       ", reservations %" PRIu64 "\n",
	       s.mappings, s.mapped_pages, s.reservations);
	printf("    page tables %" PRIu64 " (%" PRIu64 " bytes), IOVA pages in use %"
	       PRIu64 "\n", s.pt_tables, s.pt_bytes, s.iova_used_pages);
	printf("    device faults %" PRIu64 ", IOTLB hits %" PRIu64 ", misses %"
	       PRIu64 ", invalidations %" PRIu64 "\n",
	       s.faults, s.iotlb_hits, s.iotlb_misses, s.iotlb_invalidations);
	printf("    backend syncs %" PRIu64 ", full flushes %" PRIu64 "\n",
	       s.backend_syncs, s.backend_flush_all);
}

/* Steps 1-6: a Translate domain with a Buddy allocator. */
static void demo_buddy_domain(void)
{
	struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY,
		.address_width = 48,
	};
	struct ivm_domain_config cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = &buddy,
	};
	struct ivm_domain *domain = NULL;
	struct ivm_swdev *dev = NULL;
	struct fault_log faults = { 0 };
	unsigned char *rw = alloc_pages(2);
	unsigned char *ro = alloc_pages(1);
	unsigned char *rsv_buf = alloc_pages(1);
	struct ivm_reservation *rsv = NULL;
	ivm_la la_rw = 0, la_ro = 0, la_rsv = 0, rsv_base = 0;
	uint64_t rsv_size = 0, pa = 0;
	uint32_t perms = 0;
	char text[32] = { 0 };
	struct ivm_phys phys;

	section("1. a Translate domain with a Buddy allocator (48-bit IOVAs)");
	if (!step("ivm_domain_create", ivm_domain_create(&cfg, &domain),
		  IVM_STATUS_SUCCESS))
		goto out;
	step("ivm_domain_set_fault_handler",
	     ivm_domain_set_fault_handler(domain, on_fault, &faults),
	     IVM_STATUS_SUCCESS);
	if (!step("ivm_swdev_create (a model device on the domain)",
		  ivm_swdev_create(domain, &dev), IVM_STATUS_SUCCESS))
		goto out;

	section("2. map two buffers and DMA through them");
	phys = buffer_of(rw, 2);
	if (!step("map 8 KiB read/write buffer",
		  ivm_map_logical_range_ex(domain, IVM_PERM_READ | IVM_PERM_WRITE,
					   &phys, NULL, NULL, NULL, &la_rw),
		  IVM_STATUS_SUCCESS))
		goto out;
	printf("    buffer at va %p got la 0x%" PRIx64 "\n", (void *)rw, la_rw);

	strcpy((char *)ro, "read-only data");
	phys = buffer_of(ro, 1);
	if (!step("map 4 KiB read-only buffer",
		  ivm_map_logical_range_ex(domain, IVM_PERM_READ, &phys, NULL,
					   NULL, NULL, &la_ro),
		  IVM_STATUS_SUCCESS))
		goto out;
	printf("    buffer at va %p got la 0x%" PRIx64 "\n", (void *)ro, la_ro);

	step("ivm_translate(la_rw + 0x1234)",
	     ivm_translate(domain, la_rw + 0x1234, &pa, &perms),
	     IVM_STATUS_SUCCESS);
	printf("    -> pa 0x%" PRIx64 ", permissions %s%s\n", pa,
	       perms & IVM_PERM_READ ? "r" : "-",
	       perms & IVM_PERM_WRITE ? "w" : "-");
	expect("pa is the buffer's address + 0x1234",
	       pa == (uint64_t)(uintptr_t)rw + 0x1234);

	step("device writes \"hello, DMA\" at la_rw + 4090 (2 pages)",
	     ivm_swdev_dma_write(dev, la_rw + 4090, "hello, DMA", 11),
	     IVM_STATUS_SUCCESS);
	expect("the bytes landed in the buffer",
	       memcmp(rw + 4090, "hello, DMA", 11) == 0);
	step("device reads 15 bytes at la_ro",
	     ivm_swdev_dma_read(dev, la_ro, text, 15), IVM_STATUS_SUCCESS);
	printf("    device read \"%s\"\n", text);
	expect("it read the read-only buffer's contents",
	       strcmp(text, "read-only data") == 0);

	section("3. the IOMMU refuses a write to the read-only buffer");
	step("device writes at la_ro",
	     ivm_swdev_dma_write(dev, la_ro, "overwrite!", 10),
	     IVM_STATUS_ACCESS_VIOLATION);
	expect("the fault handler saw a permission fault",
	       faults.count == 1 && faults.last.reason == IVM_FAULT_PERMISSION);
	expect("the buffer is unchanged", strcmp((char *)ro, "read-only data") == 0);

	section("4. unmap: lazy invalidation, then the device can no longer reach the buffer");
	step("unmap the read/write buffer (2 pages)",
	     ivm_unmap_logical_range(domain, la_rw, 2), IVM_STATUS_SUCCESS);
	step("ivm_translate(la_rw) after unmap",
	     ivm_translate(domain, la_rw, &pa, NULL),
	     IVM_STATUS_INVALID_PARAMETER_2);
	/* The domain is lazy (the default): the unmapped range waits in a
	 * per-CPU flush queue, and the device's IOTLB still holds the
	 * translation it used in step 2.  The address itself is not handed
	 * out again until the flush below completes. */
	step("device reads at la_rw right after unmap (IOTLB still has it)",
	     ivm_swdev_dma_read(dev, la_rw, text, 4), IVM_STATUS_SUCCESS);
	step("ivm_flush_domain: the queued invalidation happens now",
	     ivm_flush_domain(domain), IVM_STATUS_SUCCESS);
	step("device reads at la_rw after the flush",
	     ivm_swdev_dma_read(dev, la_rw, text, 4),
	     IVM_STATUS_ACCESS_VIOLATION);
	expect("the fault handler saw an unmapped-address fault",
	       faults.count == 2 && faults.last.reason == IVM_FAULT_UNMAPPED);
	step("unmapping it a second time is refused",
	     ivm_unmap_logical_range(domain, la_rw, 2),
	     IVM_STATUS_INVALID_PARAMETER);

	section("5. a reservation: space set aside so later maps cannot fail");
	if (!step("reserve 16 KiB of logical space",
		  ivm_reserve_logical_range(domain, 4 * IVM_PAGE_SIZE, NULL,
					    NULL, NULL, &rsv),
		  IVM_STATUS_SUCCESS))
		goto out;
	step("ivm_reservation_base", ivm_reservation_base(rsv, &rsv_base, &rsv_size),
	     IVM_STATUS_SUCCESS);
	printf("    reservation at la 0x%" PRIx64 ", %" PRIu64 " bytes\n",
	       rsv_base, rsv_size);
	phys = buffer_of(rsv_buf, 1);
	step("map a page at offset 8 KiB inside it (allocates nothing)",
	     ivm_map_reserved_logical_range(rsv, 2 * IVM_PAGE_SIZE,
					    IVM_PERM_READ | IVM_PERM_WRITE,
					    &phys, &la_rsv),
	     IVM_STATUS_SUCCESS);
	expect("its la is base + 8 KiB", la_rsv == rsv_base + 2 * IVM_PAGE_SIZE);
	step("device writes \"reserved\" there",
	     ivm_swdev_dma_write(dev, la_rsv, "reserved", 9), IVM_STATUS_SUCCESS);
	expect("the bytes landed", strcmp((char *)rsv_buf, "reserved") == 0);
	step("freeing the reservation while it has a mapping",
	     ivm_free_reserved_logical_range(&rsv), IVM_STATUS_IN_USE);
	step("unmap inside the reservation",
	     ivm_unmap_reserved_logical_range(rsv, 2 * IVM_PAGE_SIZE, 1),
	     IVM_STATUS_SUCCESS);
	step("free the reservation",
	     ivm_free_reserved_logical_range(&rsv), IVM_STATUS_SUCCESS);

	section("6. the domain's counters");
	print_stats(domain);
	step("unmap the read-only buffer",
	     ivm_unmap_logical_range(domain, la_ro, 1), IVM_STATUS_SUCCESS);

out:
	/* Devices go before their domain. */
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&domain);
	free(rsv_buf);
	free(ro);
	free(rw);
}

/* Step 7: a domain without an allocator. */
static void demo_explicit_domain(void)
{
	struct ivm_domain_config cfg = { 0 }; /* Translate, no allocator, 48 bits */
	struct ivm_domain *domain = NULL;
	struct ivm_swdev *dev = NULL;
	unsigned char *a = alloc_pages(1);
	unsigned char *b = alloc_pages(1);
	const ivm_la explicit_la = 0x40000000; /* 1 GiB, chosen by the caller */
	ivm_la la = 0;
	uint64_t pa = 0;
	struct ivm_phys phys;

	section("7. a domain without an allocator: explicit and identity maps");
	if (!step("ivm_domain_create (zeroed config)",
		  ivm_domain_create(&cfg, &domain), IVM_STATUS_SUCCESS))
		goto out;
	if (!step("ivm_swdev_create", ivm_swdev_create(domain, &dev),
		  IVM_STATUS_SUCCESS))
		goto out;

	phys = buffer_of(a, 1);
	step("map without an address (no allocator to pick one)",
	     ivm_map_logical_range_ex(domain, IVM_PERM_READ, &phys, NULL, NULL,
				      NULL, &la),
	     IVM_STATUS_NOT_SUPPORTED);
	step("map at explicit la 0x40000000",
	     ivm_map_logical_range_ex(domain, IVM_PERM_READ | IVM_PERM_WRITE,
				      &phys, &explicit_la, NULL, NULL, &la),
	     IVM_STATUS_SUCCESS);
	expect("la is the explicit address", la == explicit_la);
	step("map another buffer at the same la",
	     ivm_map_logical_range_ex(domain, IVM_PERM_READ,
				      &(struct ivm_phys){ .type = IVM_PHYS_BUFFER,
							  .buffer = { b, IVM_PAGE_SIZE } },
				      &explicit_la, NULL, NULL, &la),
	     IVM_STATUS_IN_USE);
	step("device writes \"explicit\" at 0x40000010",
	     ivm_swdev_dma_write(dev, explicit_la + 0x10, "explicit", 9),
	     IVM_STATUS_SUCCESS);
	expect("the bytes landed", strcmp((char *)a + 0x10, "explicit") == 0);

	phys = buffer_of(b, 1);
	step("identity-map a buffer (la == its physical address)",
	     ivm_map_identity_range_ex(domain, IVM_PERM_READ | IVM_PERM_WRITE,
				       &phys),
	     IVM_STATUS_SUCCESS);
	step("ivm_translate(la = buffer address + 8)",
	     ivm_translate(domain, (uint64_t)(uintptr_t)b + 8, &pa, NULL),
	     IVM_STATUS_SUCCESS);
	expect("pa == la", pa == (uint64_t)(uintptr_t)b + 8);
	step("device writes \"identity\" at the buffer's own address",
	     ivm_swdev_dma_write(dev, (uint64_t)(uintptr_t)b, "identity", 9),
	     IVM_STATUS_SUCCESS);
	expect("the bytes landed", strcmp((char *)b, "identity") == 0);

	step("unmap the identity mapping",
	     ivm_unmap_identity_range_ex(domain, &phys), IVM_STATUS_SUCCESS);
	step("unmap the explicit mapping",
	     ivm_unmap_logical_range(domain, explicit_la, 1), IVM_STATUS_SUCCESS);

out:
	ivm_swdev_destroy(&dev);
	ivm_domain_destroy(&domain);
	free(b);
	free(a);
}

int main(void)
{
	uint32_t types = 0;

	/* Line-buffered even into a pipe (meson test), so that the steps
	 * before a crash still show up in the log. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("iovamap demo: IOVA mapping with the software IOMMU model\n");
	printf("(each line: what the step does, then the status it returned)\n");

	section("0. what this build offers");
	step("ivm_query_available_domain_types",
	     ivm_query_available_domain_types(&types), IVM_STATUS_SUCCESS);
	printf("    Translate %s, PassThrough %s, Unmanaged %s\n",
	       types & (1u << IVM_DOMAIN_TRANSLATE) ? "yes" : "no",
	       types & (1u << IVM_DOMAIN_PASSTHROUGH) ? "yes" : "no",
	       types & (1u << IVM_DOMAIN_UNMANAGED) ? "yes" : "no");

	demo_buddy_domain();
	demo_explicit_domain();

	if (unexpected != 0) {
		printf("\n%d step(s) did not go as expected\n", unexpected);
		return 1;
	}
	printf("\nall steps went as expected\n");
	return 0;
}
