/* SPDX-License-Identifier: MIT */
/*
 * vm_dma.c - the VFIO backend against a real (emulated) IOMMU: DMA by
 * QEMU's edu device through an iovamap VFIO domain, for both map paths
 * (IVM_VFIO_MAP_DIRECT and IVM_VFIO_MAP_DPDK).  Runs inside the VM test's
 * guest (tests/vm/run-vm.sh), as root, with edu bound to vfio-pci.
 *
 * What each path checks, with real DMA (about 13 transfers of 2 KiB):
 *  1. a mapping made before the device is attached is live after attach;
 *     attach errors: a malformed address gives INVALID_PARAMETER_2, a
 *     device that does not exist NOT_SUPPORTED, a second attach of the
 *     device IN_USE;
 *  2. data lands where mapped: allocator-chosen and explicit IOVAs;
 *  3. a read-only mapping (IVM_PERM_READ) can be read but not written;
 *  4. after ivm_unmap_logical_range and ivm_flush_domain a device write
 *     does not land and a device read gives zeros; an explicit unmap is
 *     strict (blocked without a flush); a remapped IOVA reaches the new
 *     buffer and the old one stays untouched;
 *  5. lazy mode: map and unmap (lazily, no flush) until the allocator hands
 *     out an IOVA again; DMA to it reaches the new buffer only, every
 *     earlier buffer stays untouched (the invalidation invariant);
 *  6. detach; detaching again gives INVALID_PARAMETER;
 *  7. the limits: direct path, the container's dma_entry_limit (lowered
 *     for the test through /sys/module/vfio_iommu_type1/parameters before
 *     the container gets its IOMMU, restored right after) gives
 *     INSUFFICIENT_RESOURCES with a detail that names it; DPDK path,
 *     DPDK's 256-mapping table (non-adjacent buffers) gives
 *     INSUFFICIENT_RESOURCES with a detail that names 256.  A failed map
 *     changes nothing: the domain maps again after an unmap.  That domain
 *     is destroyed with the device attached and its mappings live; a new
 *     domain can then attach the device;
 *  8. four threads map and unmap pages of their own at once in one lazy
 *     domain with the device attached: no call fails, and after a flush
 *     every mapping made in the container was removed from it exactly once.
 *
 * edu reaches only IOVAs below 1 << 28: every domain here has a 28-bit
 * logical space, so allocator-chosen addresses stay below it too.
 *
 * Usage: vm_dma [BDF]    (default: the first 1234:11e8 device)
 * Environment: VM_DMA_PATHS="direct dpdk" (the paths to run, in order).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iovamap/iovamap.h>
#include <iovamap/vfio.h>

#include "edu.h"
#include "vm_domain.h"
#include "vmtest.h"

#define PAGE          4096u
#define CHUNK         EDU_DMA_MAX
#define IOVA_EXPLICIT 0x8000000ull         /* 128 MiB: the allocator, lowest
                                              first, never gets there here */
#define LAZY_LOOP_MAX 2048                 /* map/unmap rounds to wait for a
                                              reused IOVA (queue: 256) */
#define ENTRY_LIMIT   8u                   /* lowered dma_entry_limit */
#define DPDK_TRY_MAX  300                  /* > DPDK's 256 */
#define LIMIT_PARAM   "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"

static const char *bdf;

/* --- buffers and patterns ------------------------------------------------ */

static uint8_t *pages_alloc(size_t pages)
{
	void *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		vmtest_fatal("mmap %zu pages: %s", pages, strerror(errno));
	return p;
}

/* Pattern @seed: nonzero-heavy and different for every seed and from the
 * smoke program's (i * 7 + 3). */
static void pattern_fill(uint8_t *p, unsigned seed)
{
	for (unsigned i = 0; i < CHUNK; i++)
		p[i] = (uint8_t)(i * 13u + seed * 31u + 1u);
}

static bool pattern_is(const uint8_t *p, unsigned seed)
{
	for (unsigned i = 0; i < CHUNK; i++)
		if (p[i] != (uint8_t)(i * 13u + seed * 31u + 1u))
			return false;
	return true;
}

/* --- iovamap helpers ---------------------------------------------------------- */

static ivm_status map_page(struct ivm_domain *d, uint32_t perm, void *va,
			   const ivm_la *explicit_la, ivm_la *la)
{
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER,
				 .buffer = { .va = va, .size = PAGE } };

	return ivm_map_logical_range_ex(d, perm, &phys, explicit_la, NULL, NULL, la);
}

#define RW (IVM_PERM_READ | IVM_PERM_WRITE)

/* A DMA that must complete (blocked or not); a wedged engine is fatal. */
static void dma_read(struct edu *edu, ivm_la la)
{
	if (edu_dma_read(edu, la, CHUNK))
		vmtest_fatal("edu DMA read 0x%llx: %s", (unsigned long long)la,
			     strerror(errno));
}

static void dma_write(struct edu *edu, ivm_la la)
{
	if (edu_dma_write(edu, la, CHUNK))
		vmtest_fatal("edu DMA write 0x%llx: %s", (unsigned long long)la,
			     strerror(errno));
}

static void print_stats(const char *group, const char *when,
			struct ivm_domain *d)
{
	struct ivm_domain_stats s;

	if (ivm_domain_get_stats(d, &s) != IVM_STATUS_SUCCESS)
		return;
	vmtest_info("%s stats %s: mappings=%llu backend_syncs=%llu "
		    "flush_batches=%llu flush_entries=%llu vfio_map_calls=%llu "
		    "vfio_unmap_calls=%llu vfio_unmapped=%llu "
		    "vfio_container_mappings=%llu",
		    group, when, (unsigned long long)s.mappings,
		    (unsigned long long)s.backend_syncs,
		    (unsigned long long)s.flush_batches,
		    (unsigned long long)s.flush_entries,
		    (unsigned long long)s.vfio_map_calls,
		    (unsigned long long)s.vfio_unmap_calls,
		    (unsigned long long)s.vfio_unmapped,
		    (unsigned long long)s.vfio_container_mappings);
}

/* --- 1-6: DMA through one domain ------------------------------------------- */

static void test_dma(const char *group, enum ivm_vfio_map_path path)
{
	struct ivm_domain *d = NULL;
	struct ivm_vfio_device dev;
	struct edu edu = { .fd = -1 };
	char err[256];
	ivm_status st;
	uint8_t *src = pages_alloc(1), *tgt = pages_alloc(1);
	uint8_t *exp = pages_alloc(1), *ro = pages_alloc(1);
	uint8_t *renew = pages_alloc(1);
	ivm_la la_src, la_tgt, la_ro, la_renew, la_got;
	const ivm_la la_exp = IOVA_EXPLICIT;
	uint64_t t0 = vmtest_now_ns();

	st = vm_make_domain(path, IVM_FLUSH_LAZY, &d);
	if (!vm_check_status(group, "domain_create", st, IVM_STATUS_SUCCESS))
		return;
	vmtest_info("%s: domain created in %llu ms (the first one starts "
		    "DPDK's EAL)", group,
		    (unsigned long long)((vmtest_now_ns() - t0) / 1000000));

	/* 1. map before attach, attach errors */
	pattern_fill(src, 1);
	st = map_page(d, RW, src, NULL, &la_src);
	if (!vm_check_status(group, "map_before_attach", st, IVM_STATUS_SUCCESS))
		goto out_destroy;
	vm_check_status(group, "attach_malformed_address",
			ivm_domain_attach_device(d, "not-a-pci-address", &dev),
			IVM_STATUS_INVALID_PARAMETER_2);
	vm_check_status(group, "attach_no_such_device",
			ivm_domain_attach_device(d, "0000:00:1f.7", &dev),
			IVM_STATUS_NOT_SUPPORTED);
	st = ivm_domain_attach_device(d, bdf, &dev);
	if (!vm_check_status(group, "attach", st, IVM_STATUS_SUCCESS))
		goto out_destroy;
	if (edu_open(&edu, dev.fd, err, sizeof(err)))
		vmtest_fatal("%s: edu_open: %s", group, err);
	vmtest_info("%s: attached %s: fd %d, %u regions, %u irqs", group, bdf,
		    dev.fd, dev.num_regions, dev.num_irqs);
	{
		struct ivm_vfio_device again;

		vm_check_status(group, "attach_twice_in_use",
				ivm_domain_attach_device(d, bdf, &again),
				IVM_STATUS_IN_USE);
	}

	/* 2. src (mapped before attach) -> device -> tgt (allocator IOVA) */
	st = map_page(d, RW, tgt, NULL, &la_tgt);
	if (!vm_check_status(group, "map_allocated", st, IVM_STATUS_SUCCESS))
		goto out_detach;
	dma_read(&edu, la_src);
	dma_write(&edu, la_tgt);
	vmtest_checkf(pattern_is(tgt, 1), group, "mapped_before_attach_live",
		      "src at 0x%llx", (unsigned long long)la_src);
	vmtest_checkf(pattern_is(tgt, 1), group, "dma_lands_at_allocated_iova",
		      "tgt at 0x%llx", (unsigned long long)la_tgt);
	st = map_page(d, RW, exp, &la_exp, &la_got);
	if (vm_check_status(group, "map_explicit", st, IVM_STATUS_SUCCESS) &&
	    vmtest_checkf(la_got == la_exp, group, "map_explicit_address",
			  "0x%llx", (unsigned long long)la_got)) {
		dma_write(&edu, la_exp);
		vmtest_checkf(pattern_is(exp, 1), group,
			      "dma_lands_at_explicit_iova", "0x%llx",
			      (unsigned long long)la_exp);
	}

	/* 3. read-only mapping: the device buffer holds pattern 1 */
	pattern_fill(ro, 2);
	st = map_page(d, IVM_PERM_READ, ro, NULL, &la_ro);
	if (vm_check_status(group, "map_read_only", st, IVM_STATUS_SUCCESS)) {
		dma_write(&edu, la_ro);
		vmtest_check(pattern_is(ro, 2), group, "read_only_write_blocked");
		dma_read(&edu, la_ro);
		dma_write(&edu, la_tgt);
		vmtest_check(pattern_is(tgt, 2), group, "read_only_readable");
		vm_check_status(group, "unmap_read_only",
				ivm_unmap_logical_range(d, la_ro, 1),
				IVM_STATUS_SUCCESS);
	}

	/* 4. unmap + flush: blocked; the device buffer holds pattern 2 */
	st = ivm_unmap_logical_range(d, la_tgt, 1);
	vm_check_status(group, "unmap_lazy", st, IVM_STATUS_SUCCESS);
	vm_check_status(group, "flush_domain", ivm_flush_domain(d), IVM_STATUS_SUCCESS);
	memset(tgt, 0, PAGE);
	dma_write(&edu, la_tgt);
	vmtest_check(all_zero(tgt, PAGE), group, "unmapped_write_blocked");
	dma_read(&edu, la_tgt);          /* blocked read: zeros */
	dma_write(&edu, la_exp);
	vmtest_check(all_zero(exp, CHUNK), group, "unmapped_read_gives_zeros");

	/* explicit unmap is strict; remap the IOVA to a new buffer */
	dma_read(&edu, la_src);          /* device buffer: pattern 1 again */
	vm_check_status(group, "unmap_explicit",
			ivm_unmap_logical_range(d, la_exp, 1), IVM_STATUS_SUCCESS);
	dma_write(&edu, la_exp);
	vmtest_check(all_zero(exp, PAGE), group, "explicit_unmap_strict_blocked");
	st = map_page(d, RW, renew, &la_exp, &la_renew);
	if (vm_check_status(group, "remap_explicit", st, IVM_STATUS_SUCCESS)) {
		dma_write(&edu, la_exp);
		vmtest_check(pattern_is(renew, 1), group, "remapped_iova_reaches_new_buffer");
		vmtest_check(all_zero(exp, PAGE), group, "remapped_old_buffer_untouched");
	}

	/* 5. lazy: an IOVA handed out again never reaches its old buffer */
	{
		uint8_t *pool = pages_alloc(LAZY_LOOP_MAX);
		ivm_la *las = calloc(LAZY_LOOP_MAX, sizeof(*las));
		int reused = -1, first = -1;

		if (!las)
			vmtest_fatal("calloc");
		for (int i = 0; i < LAZY_LOOP_MAX && reused < 0; i++) {
			st = map_page(d, RW, pool + (size_t)i * PAGE, NULL, &las[i]);
			if (st != IVM_STATUS_SUCCESS)
				break;
			for (int j = 0; j < i; j++) {
				if (las[j] == las[i]) {
					reused = i;
					first = j;
					break;
				}
			}
			if (reused < 0) {
				st = ivm_unmap_logical_range(d, las[i], 1);
				if (st != IVM_STATUS_SUCCESS)
					break;
			}
		}
		if (vm_check_status(group, "lazy_map_unmap_loop", st, IVM_STATUS_SUCCESS) &&
		    vmtest_checkf(reused >= 0, group, "lazy_iova_reused",
				  "round %d reused 0x%llx of round %d", reused,
				  reused >= 0 ? (unsigned long long)las[reused] : 0ull,
				  first)) {
			bool others_clean = true;

			dma_write(&edu, las[reused]);
			vmtest_check(pattern_is(pool + (size_t)reused * PAGE, 1),
				     group, "lazy_reused_iova_reaches_new_buffer");
			for (int j = 0; j < reused; j++)
				others_clean &= all_zero(pool + (size_t)j * PAGE, PAGE);
			vmtest_checkf(others_clean, group,
				      "lazy_reused_iova_old_buffers_untouched",
				      "%d earlier buffers", reused);
			ivm_unmap_logical_range(d, las[reused], 1);
		}
		print_stats(group, "after the lazy loop", d);
		free(las);
		munmap(pool, (size_t)LAZY_LOOP_MAX * PAGE);
	}

	/* 6. detach */
out_detach:
	vmtest_info("%s: %llu DMAs", group, (unsigned long long)edu.dma_count);
	edu_set_bus_master(&edu, false);
	edu_close(&edu);
	vm_check_status(group, "detach", ivm_domain_detach_device(d, bdf),
			IVM_STATUS_SUCCESS);
	vm_check_status(group, "detach_again",
			ivm_domain_detach_device(d, bdf), IVM_STATUS_INVALID_PARAMETER);
out_destroy:
	ivm_domain_destroy(&d);
	munmap(src, PAGE);
	munmap(tgt, PAGE);
	munmap(exp, PAGE);
	munmap(ro, PAGE);
	munmap(renew, PAGE);
}

/* --- 7. the limits ----------------------------------------------------------- */

static int read_param(const char *path, unsigned *value)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%u", value) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int write_param(const char *path, unsigned value)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f, "%u\n", value) > 0;
	ok &= fclose(f) == 0;
	return ok ? 0 : -1;
}

/*
 * Map single pages, two pages apart in memory (so DPDK cannot merge
 * neighbours), until a map fails or @max succeeded.  Returns how many
 * succeeded; *failure gets the failing status (SUCCESS when none failed)
 * and @detail its ivm_status_detail().
 */
static int map_until_failure(struct ivm_domain *d, uint8_t *pool, int max,
			     ivm_la *las, ivm_status *failure, char *detail,
			     size_t detail_size)
{
	int n;

	*failure = IVM_STATUS_SUCCESS;
	detail[0] = '\0';
	for (n = 0; n < max; n++) {
		ivm_status st = map_page(d, RW, pool + (size_t)n * 2 * PAGE, NULL,
					 &las[n]);

		if (st != IVM_STATUS_SUCCESS) {
			*failure = st;
			snprintf(detail, detail_size, "%s", ivm_status_detail());
			break;
		}
	}
	return n;
}

static void test_limit(const char *group, enum ivm_vfio_map_path path)
{
	const bool direct = path == IVM_VFIO_MAP_DIRECT;
	const int max = direct ? 4 * ENTRY_LIMIT : DPDK_TRY_MAX;
	struct ivm_domain *d = NULL;
	struct ivm_vfio_device dev;
	unsigned saved_limit = 0;
	uint8_t *pool = pages_alloc((size_t)2 * max);
	ivm_la *las = calloc((size_t)max, sizeof(*las));
	char detail[256];
	ivm_status st, failure;
	int n;

	if (!las)
		vmtest_fatal("calloc");
	/* type1 reads dma_entry_limit when a container gets its IOMMU (at
	 * the first attach): lower it from before the domain exists until
	 * the attach returned. */
	if (direct) {
		if (!vmtest_check(read_param(LIMIT_PARAM, &saved_limit) == 0 &&
				  write_param(LIMIT_PARAM, ENTRY_LIMIT) == 0,
				  group, "lower_dma_entry_limit"))
			goto out;
	}
	st = vm_make_domain(path, IVM_FLUSH_STRICT, &d);
	if (vm_check_status(group, "limit_domain_create", st, IVM_STATUS_SUCCESS))
		st = ivm_domain_attach_device(d, bdf, &dev);
	if (direct) {
		unsigned now = 0;

		vmtest_checkf(write_param(LIMIT_PARAM, saved_limit) == 0 &&
			      read_param(LIMIT_PARAM, &now) == 0 &&
			      now == saved_limit, group,
			      "restore_dma_entry_limit", "%u", saved_limit);
	}
	if (!d || !vm_check_status(group, "limit_attach", st, IVM_STATUS_SUCCESS))
		goto out;

	n = map_until_failure(d, pool, max, las, &failure, detail, sizeof(detail));
	if (direct) {
		vmtest_checkf(n == (int)ENTRY_LIMIT &&
			      failure == IVM_STATUS_INSUFFICIENT_RESOURCES, group,
			      "dma_entry_limit_insufficient_resources",
			      "%d maps accepted with dma_entry_limit %u, then %s",
			      n, ENTRY_LIMIT, ivm_status_name(failure));
		/* The detail names the limit and the container's own value
		 * (the parameter has been restored by now). */
		char want[64];
		snprintf(want, sizeof(want), "dma_entry_limit was %u",
			 ENTRY_LIMIT);
		vmtest_checkf(strstr(detail, want) != NULL, group,
			      "dma_entry_limit_detail", "\"%s\"", detail);
	} else {
		vmtest_checkf(n >= 250 && n <= 256 &&
			      failure == IVM_STATUS_INSUFFICIENT_RESOURCES, group,
			      "dpdk_256_cap_insufficient_resources",
			      "%d non-adjacent maps accepted, then %s", n,
			      ivm_status_name(failure));
		vmtest_checkf(strstr(detail, "256") != NULL, group,
			      "dpdk_256_cap_detail", "\"%s\"", detail);
	}
	/* The failed map changed nothing: after one unmap a map fits again. */
	if (n > 0 && failure != IVM_STATUS_SUCCESS) {
		ivm_la la;

		st = ivm_unmap_logical_range(d, las[n - 1], 1);
		if (st == IVM_STATUS_SUCCESS)
			st = map_page(d, RW, pool + (size_t)(n - 1) * 2 * PAGE,
				      NULL, &la);
		vm_check_status(group, "limit_map_after_unmap", st, IVM_STATUS_SUCCESS);
		if (st == IVM_STATUS_SUCCESS)
			las[n - 1] = la;
	}
	{
		struct ivm_domain_stats s;

		if (ivm_domain_get_stats(d, &s) == IVM_STATUS_SUCCESS)
			vmtest_checkf(s.mappings == (uint64_t)n, group,
				      "limit_failed_map_left_nothing",
				      "%llu mappings", (unsigned long long)s.mappings);
	}
	/* Destroying the domain with the device attached and its mappings
	 * live tears everything down: a new domain can take the device. */
	ivm_domain_destroy(&d);
	st = vm_make_domain(path, IVM_FLUSH_STRICT, &d);
	if (st == IVM_STATUS_SUCCESS)
		st = ivm_domain_attach_device(d, bdf, &dev);
	vm_check_status(group, "attach_after_destroy_with_device", st,
			IVM_STATUS_SUCCESS);
	if (st == IVM_STATUS_SUCCESS)
		vm_check_status(group, "detach_after_destroy_with_device",
				ivm_domain_detach_device(d, bdf), IVM_STATUS_SUCCESS);
out:
	ivm_domain_destroy(&d);
	free(las);
	munmap(pool, (size_t)2 * max * PAGE);
}

/* --- 8: threads mapping and unmapping at once ------------------------------- */

#define RACE_THREADS 4
#define RACE_LIVE    8   /* mappings each thread holds at most */

struct race_arg {
	struct ivm_domain *d;
	uint8_t *pages;      /* RACE_LIVE pages of its own */
	int ops;
	int failures;
};

/* Map and unmap this thread's pages in a pseudo-random order: the VFIO
 * backend's records, pending list and coalesced syncs are shared by all
 * threads of the domain. */
static void *race_worker(void *p)
{
	struct race_arg *a = p;
	ivm_la la[RACE_LIVE];
	bool live[RACE_LIVE] = { false };
	unsigned x = (unsigned)(uintptr_t)a->pages | 1u;

	for (int i = 0; i < a->ops; i++) {
		x = x * 1103515245u + 12345u;
		int k = (int)((x >> 16) % RACE_LIVE);
		ivm_status st = live[k]
			? ivm_unmap_logical_range(a->d, la[k], 1)
			: map_page(a->d, RW, a->pages + (size_t)k * PAGE, NULL,
				   &la[k]);
		if (st != IVM_STATUS_SUCCESS)
			a->failures++;
		else
			live[k] = !live[k];
	}
	for (int k = 0; k < RACE_LIVE; k++)
		if (live[k] &&
		    ivm_unmap_logical_range(a->d, la[k], 1) != IVM_STATUS_SUCCESS)
			a->failures++;
	return NULL;
}

static void test_threads(const char *group, enum ivm_vfio_map_path path)
{
	struct ivm_domain *d = NULL;
	struct ivm_vfio_device dev;
	struct race_arg args[RACE_THREADS];
	pthread_t tid[RACE_THREADS];
	/* A DPDK call costs ~10x the ioctl under TCG: fewer operations. */
	int ops = path == IVM_VFIO_MAP_DPDK ? 150 : 1000;
	uint8_t *pages = pages_alloc((size_t)RACE_THREADS * RACE_LIVE);

	ivm_status st = vm_make_domain(path, IVM_FLUSH_LAZY, &d);
	if (!vm_check_status(group, "race_domain_create", st, IVM_STATUS_SUCCESS))
		return;
	st = ivm_domain_attach_device(d, bdf, &dev);
	if (vm_check_status(group, "race_attach", st, IVM_STATUS_SUCCESS)) {
		int failures = 0;
		for (int t = 0; t < RACE_THREADS; t++) {
			args[t] = (struct race_arg){
				.d = d,
				.pages = pages + (size_t)t * RACE_LIVE * PAGE,
				.ops = ops,
			};
			if (pthread_create(&tid[t], NULL, race_worker, &args[t]))
				vmtest_fatal("pthread_create");
		}
		for (int t = 0; t < RACE_THREADS; t++) {
			pthread_join(tid[t], NULL);
			failures += args[t].failures;
		}
		vmtest_checkf(failures == 0, group, "race_no_failed_call",
			      "%d of %d calls failed", failures,
			      RACE_THREADS * ops);
		ivm_flush_domain(d);
		struct ivm_domain_stats s;
		ivm_domain_get_stats(d, &s);
		/* Every mapping made in the container was removed from it,
		 * exactly once, and nothing is left. */
		vmtest_checkf(s.mappings == 0 && s.vfio_container_mappings == 0 &&
			      s.vfio_unmapped == s.vfio_map_calls &&
			      s.vfio_unmap_calls <= s.vfio_unmapped, group,
			      "race_container_empty",
			      "mappings=%llu in_container=%llu map_calls=%llu "
			      "unmapped=%llu unmap_calls=%llu",
			      (unsigned long long)s.mappings,
			      (unsigned long long)s.vfio_container_mappings,
			      (unsigned long long)s.vfio_map_calls,
			      (unsigned long long)s.vfio_unmapped,
			      (unsigned long long)s.vfio_unmap_calls);
	}
	ivm_domain_destroy(&d);
	munmap(pages, (size_t)RACE_THREADS * RACE_LIVE * PAGE);
}

/* --- the x86 MSI window ------------------------------------------------------ */

#define MSI_BASE   0xfee00000ull
#define MSI_END    0xfef00000ull /* exclusive */
#define NEAR_MIN   0xfe000000ull /* 32 MiB around the window */
#define NEAR_MAX   0xffffffffull
#define NEAR_PAGES 64u           /* 256 KiB mappings: 128 fit, 4 of them in
                                    the window */

/* A VFIO domain as wide as VT-d translates (39 bits), edu attached. */
static struct ivm_domain *msi_domain(const char *group,
				     const struct ivm_reserved_region *r,
				     size_t n)
{
	struct ivm_allocator_config alloc = {
		.type = IVM_ALLOCATOR_BUDDY,
		.address_width = 39,
		.flags = IVM_ALLOCATOR_ALLOW_EXPLICIT,
	};
	struct ivm_domain_config cfg = {
		.type = IVM_DOMAIN_TRANSLATE,
		.allocator = &alloc,
		.backend = IVM_BACKEND_VFIO,
		.reserved = r,
		.reserved_count = n,
	};
	struct ivm_vfio_device dev;
	struct ivm_domain *d = NULL;

	if (!vm_check_status(group, "domain_create", ivm_domain_create(&cfg, &d),
			     IVM_STATUS_SUCCESS))
		return NULL;
	if (!vm_check_status(group, "attach",
			     ivm_domain_attach_device(d, bdf, &dev),
			     IVM_STATUS_SUCCESS)) {
		ivm_domain_destroy(&d);
		return NULL;
	}
	return d;
}

static void msi_domain_destroy(const char *group, struct ivm_domain **d)
{
	vm_check_status(group, "detach", ivm_domain_detach_device(*d, bdf),
			IVM_STATUS_SUCCESS);
	ivm_domain_destroy(d);
}

/*
 * VT-d never translates [0xfee00000, 0xfeefffff] (a device's writes there
 * are interrupts), and VFIO refuses mappings in it.  A VFIO domain keeps
 * it out of its allocator by itself: allocated maps packed around it all
 * land outside and all are accepted by the kernel, and an explicit map in
 * it is refused by the domain.  With a region of the caller's that covers
 * only part of it the domain adds nothing, and the kernel's refusal of the
 * rest shows why the window must be kept out.
 */
static void test_msi_window(void)
{
	const char *group = "msi";
	uint8_t *buf = pages_alloc(NEAR_PAGES);
	struct ivm_phys phys = { .type = IVM_PHYS_BUFFER,
				 .buffer = { .va = buf,
					     .size = NEAR_PAGES * PAGE } };
	const ivm_la min = NEAR_MIN, max = NEAR_MAX;
	ivm_la las[2 * ((NEAR_MAX + 1 - NEAR_MIN) / (NEAR_PAGES * PAGE))];
	unsigned n = 0, inside = 0;
	ivm_la at, la;
	ivm_status st = IVM_STATUS_SUCCESS;

	struct ivm_domain *d = msi_domain(group, NULL, 0);
	if (!d)
		goto out;
	at = MSI_BASE + 0x10000;
	vm_check_status(group, "explicit_in_window_refused",
			map_page(d, RW, buf, &at, &la), IVM_STATUS_IN_USE);
	while (n < sizeof(las) / sizeof(las[0])) {
		st = ivm_map_logical_range_ex(d, RW, &phys, NULL, &min, &max,
					      &la);
		if (st != IVM_STATUS_SUCCESS)
			break;
		inside += la < MSI_END && la + NEAR_PAGES * PAGE > MSI_BASE;
		las[n++] = la;
	}
	/* The last map found no room left, not a kernel refusal. */
	vmtest_checkf(n == 124 && inside == 0 &&
			      st == IVM_STATUS_INSUFFICIENT_RESOURCES,
		      group, "allocator_avoids_window",
		      "%u maps of 256 KiB in [0x%llx, 0x%llx], %u in the "
		      "window, then %s %s", n, (unsigned long long)NEAR_MIN,
		      (unsigned long long)NEAR_MAX, inside,
		      ivm_status_name(st), ivm_status_detail());
	for (unsigned i = 0; i < n; i++)
		if (ivm_unmap_logical_range(d, las[i], NEAR_PAGES) !=
		    IVM_STATUS_SUCCESS)
			vmtest_fatal("msi: unmap 0x%llx",
				     (unsigned long long)las[i]);
	msi_domain_destroy(group, &d);

	const struct ivm_reserved_region part = { .base = MSI_BASE,
						  .pages = 16 };
	d = msi_domain(group, &part, 1);
	if (!d)
		goto out;
	vm_check_status(group, "caller_region_in_use",
			map_page(d, RW, buf, &(ivm_la){ MSI_BASE }, &la),
			IVM_STATUS_IN_USE);
	at = MSI_BASE + 16 * PAGE;
	st = map_page(d, RW, buf, &at, &la);
	vmtest_checkf(st == IVM_STATUS_INSUFFICIENT_RESOURCES, group,
		      "kernel_refuses_window", "map at 0x%llx: %s %s",
		      (unsigned long long)at, ivm_status_name(st),
		      ivm_status_detail());
	if (st == IVM_STATUS_SUCCESS)
		ivm_unmap_logical_range(d, at, 1);
	msi_domain_destroy(group, &d);
out:
	munmap(buf, NEAR_PAGES * PAGE);
}

int main(int argc, char **argv)
{
	const char *paths = getenv("VM_DMA_PATHS");
	char list[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	bdf = vm_edu_bdf(argc, argv);
	snprintf(list, sizeof(list), "%s", paths ? paths : "direct dpdk");
	for (char *save, *p = strtok_r(list, " ,", &save); p;
	     p = strtok_r(NULL, " ,", &save)) {
		enum ivm_vfio_map_path path;
		uint64_t t0 = vmtest_now_ns();

		if (!strcmp(p, "direct"))
			path = IVM_VFIO_MAP_DIRECT;
		else if (!strcmp(p, "dpdk"))
			path = IVM_VFIO_MAP_DPDK;
		else
			vmtest_fatal("VM_DMA_PATHS: unknown path '%s'", p);
		test_dma(p, path);
		test_limit(p, path);
		test_threads(p, path);
		vmtest_info("%s: done in %llu ms", p,
			    (unsigned long long)((vmtest_now_ns() - t0) / 1000000));
	}
	test_msi_window();
	return vmtest_result();
}
