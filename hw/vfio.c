/* SPDX-License-Identifier: MIT */
/*
 * vfio.c - the VFIO backend: a domain's mappings as VFIO DMA mappings of
 * one container, set up through DPDK's rte_vfio API.
 *
 * Design.  Linux's VFIO type1 driver is the IOMMU here: VFIO_IOMMU_MAP_DMA
 * pins process memory and installs IOMMU entries, VFIO_IOMMU_UNMAP_DMA
 * removes them and invalidates the IOTLB before it returns (the kernel
 * flushes once per mapping removed; our reference counts from QEMU's VT-d
 * trace).  So for this backend "invalidate" means "unmap": the core's
 * unmap hook only queues the range (pending), and sync removes everything
 * pending with as few unmap calls as possible - adjacent whole mappings in
 * one call.  add_range has nothing to do.  The core gives logical
 * addresses back only after sync returned (domain.h invariant 4), so an
 * address is never mapped again while the container still maps it.
 *
 * The backend keeps its own record of every mapping (logical address,
 * pages, virtual address, permissions, how it was made): DPDK's unmap needs
 * the virtual address, a container has no IOMMU until a device is attached
 * (mappings made before are made at the first attach), and the last
 * detach drops the container's mappings (the next attach makes them
 * again).
 *
 * DPDK hazards this file shields callers from (DPDK 22.11, measured in the
 * project's VM test):
 *  - order: container_create, get_group_num, container_group_bind,
 *    setup_device (which gives the container its IOMMU type; before it,
 *    maps fail), maps, release_device, container_destroy;
 *  - a map over an IOVA that is already mapped returns 0 (the kernel's
 *    EEXIST is swallowed) and a later unmap through that entry removes the
 *    real mapping: never happens here, because the core refuses
 *    overlapping mappings and the container is this domain's alone;
 *  - at most 256 non-adjacent mappings per container: a clear status and
 *    detail, and the direct path as the way out;
 *  - DPDK remembers "user" mappings and replays them when a container gets
 *    its first group: every DPDK-made mapping is unmapped through DPDK
 *    before the last device goes, so its table is empty when that happens;
 *  - DPDK always maps read+write: mappings with other permissions are made
 *    with the ioctl even on the DPDK path.
 *
 * Invariants:
 *  1. Every live mapping of the domain has exactly one record; a record is
 *     in the container iff at least one device is attached (and its
 *     permissions are not empty).
 *  2. A pending range covers whole recorded mappings; its records stay
 *     until the unmap call that removes them returned.
 *  3. Everything below is changed under be->lock only, and sync holds it
 *     from draining the pending list to the last unmap call, so a sync
 *     that returns has completed every range queued before it began.
 *
 * Concurrency: maps, unmaps, syncs, attach and detach may come from any
 * threads at once; all serialise on be->lock (the kernel serialises them
 * on the container anyway).  get_stats reads counters without the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_vfio.h>

#include "atomics.h"
#include "backend.h"
#include "util.h"

#define SYSFS_PCI_DEVICES "/sys/bus/pci/devices"
#define DMA_ENTRY_LIMIT_PARAM \
	"/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"
/* DPDK 22.11's EAL_VFIO_MAX_USER_MEM_MAPS. */
#define DPDK_MAX_USER_MAPS 256
/* Devices one domain can hold (any number of groups). */
#define VFIO_MAX_DEVICES 32

/* How a record was made in the container. */
enum made_by {
	MADE_NONE,	/* not in the container (no device, or no access) */
	MADE_IOCTL,	/* VFIO_IOMMU_MAP_DMA */
	MADE_DPDK,	/* rte_vfio_container_dma_map */
};

struct record {
	ivm_la la;		/* key; pages == 0 marks an empty slot */
	uint64_t pages;
	uint64_t va;
	uint32_t perm;
	uint8_t made_by;	/* enum made_by */
};

struct pending {
	ivm_la la;
	uint64_t pages;
};

struct stale {
	uint64_t va;
	ivm_la la;
	uint64_t bytes;
};

struct device {
	char address[16];
	int group;
	int fd;
};

struct ivm_backend {
	pthread_mutex_t lock;	/* everything up to the counters */
	int container;
	enum ivm_vfio_map_path path;
	/* Open-addressing table of records keyed by la (linear probing,
	 * deletion by backward shift); cap is a power of two, count <=
	 * cap / 2. */
	struct record *slots;
	size_t cap;
	size_t count;
	/* The kernel's dma_entry_limit when the container got its IOMMU
	 * (the first attach): the container's limit, for messages. */
	uint64_t entry_limit;
	/* DPDK entries whose DPDK unmap failed (the kernel mapping was
	 * removed with the ioctl): retried when the last device goes, so
	 * DPDK has nothing stale to replay into the next IOMMU. */
	struct stale *stale;
	size_t nstale;
	/* Unmapped runs waiting for the next sync, and that sync's scratch
	 * (copies of the records it removes, and their order).  All three
	 * have cap entries, grown with the table by records_reserve, so that
	 * neither an unmap nor a sync allocates: a pending run covers at
	 * least one record still in the table, and no record twice. */
	struct pending *pending;
	size_t npending;
	struct record *scratch;
	struct record **order;
	struct device devices[VFIO_MAX_DEVICES];
	unsigned ndevices;
	/* Counters: written under lock, read by get_stats without it. */
	_Atomic uint64_t map_calls;
	_Atomic uint64_t unmap_calls;
	_Atomic uint64_t unmapped;
	_Atomic uint64_t syncs;
	_Atomic uint64_t container_mappings;
};

/* --- EAL ---------------------------------------------------------------- */

#define DEFAULT_EAL_ARGS "--no-huge -m 32 --no-pci --no-shconf " \
	"--no-telemetry --log-level=lib.eal:error"

static pthread_mutex_t eal_lock = PTHREAD_MUTEX_INITIALIZER;
static bool eal_ready;
/* rte_eal_init() runs at most once per process, even when it fails. */
static bool eal_failed;

/*
 * Make sure DPDK's EAL is initialised.  An application that called
 * rte_eal_init() has lcores; otherwise initialise it here, on the CPU this
 * thread runs on, and give the thread its CPU affinity back (EAL pins its
 * main thread).
 */
static bool eal_ensure(const char *args)
{
	bool ok;

	ivm_mutex_lock(&eal_lock);
	if (eal_ready || rte_lcore_count() > 0) {
		eal_ready = true;
		ivm_mutex_unlock(&eal_lock);
		return true;
	}
	if (eal_failed) {
		ivm_set_status_detail("DPDK's EAL failed to start earlier in "
				      "this process");
		ivm_mutex_unlock(&eal_lock);
		return false;
	}
	char line[1024];
	int cpu = sched_getcpu();
	if (args)
		snprintf(line, sizeof(line), "%s", args);
	else
		snprintf(line, sizeof(line), "%s -l %d", DEFAULT_EAL_ARGS,
			 cpu < 0 ? 0 : cpu);
	char *argv[64] = { "iovamap" };
	int argc = 1;
	char *save = NULL;
	for (char *t = strtok_r(line, " ", &save); t && argc < 63;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;

	cpu_set_t affinity;
	bool have_affinity = pthread_getaffinity_np(pthread_self(),
						    sizeof(affinity),
						    &affinity) == 0;
	ok = rte_eal_init(argc, argv) >= 0 || rte_errno == EALREADY;
	if (!ok)
		ivm_set_status_detail("DPDK's EAL did not start (%s); a DPDK "
				      "application calls rte_eal_init() first",
				      rte_strerror(rte_errno));
	if (have_affinity)
		pthread_setaffinity_np(pthread_self(), sizeof(affinity),
				       &affinity);
	eal_ready = ok;
	eal_failed = !ok;
	ivm_mutex_unlock(&eal_lock);
	return ok;
}

/* --- records ------------------------------------------------------------ */

static size_t slot_of(const struct ivm_backend *be, ivm_la la)
{
	uint64_t h = (la >> IVM_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (be->cap - 1);
}

static struct record *record_find(struct ivm_backend *be, ivm_la la)
{
	if (be->cap == 0)
		return NULL;
	for (size_t i = slot_of(be, la);; i = (i + 1) & (be->cap - 1)) {
		if (be->slots[i].pages == 0)
			return NULL;
		if (be->slots[i].la == la)
			return &be->slots[i];
	}
}

static void record_place(struct ivm_backend *be, const struct record *r)
{
	size_t i = slot_of(be, r->la);
	while (be->slots[i].pages != 0)
		i = (i + 1) & (be->cap - 1);
	be->slots[i] = *r;
}

/* Room for one more record (and its pending run and sync scratch);
 * false when out of memory, with nothing changed. */
static bool records_reserve(struct ivm_backend *be)
{
	if ((be->count + 1) * 2 <= be->cap)
		return true;
	size_t cap = be->cap ? be->cap * 2 : 64;
	struct record *old = be->slots, *slots = calloc(cap, sizeof(*slots));
	struct record *scratch = malloc(cap * sizeof(*scratch));
	struct record **order = malloc(cap * sizeof(*order));
	struct pending *pending = slots && scratch && order ?
		realloc(be->pending, cap * sizeof(*pending)) : NULL;
	if (!pending) {
		free(slots);
		free(scratch);
		free(order);
		return false;
	}
	size_t old_cap = be->cap;
	be->slots = slots;
	be->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].pages != 0)
			record_place(be, &old[i]);
	free(old);
	free(be->scratch);
	free(be->order);
	be->scratch = scratch;
	be->order = order;
	be->pending = pending;
	return true;
}

/* Delete r (a slot of be->slots), shifting later probes back. */
static void record_delete(struct ivm_backend *be, struct record *r)
{
	size_t hole = (size_t)(r - be->slots);
	be->count--;
	for (size_t i = (hole + 1) & (be->cap - 1);;
	     i = (i + 1) & (be->cap - 1)) {
		if (be->slots[i].pages == 0)
			break;
		size_t home = slot_of(be, be->slots[i].la);
		/* Move i into the hole unless its home lies cyclically in
		 * (hole, i]. */
		bool stays = hole <= i ? (hole < home && home <= i)
				       : (hole < home || home <= i);
		if (!stays) {
			be->slots[hole] = be->slots[i];
			hole = i;
		}
	}
	be->slots[hole].pages = 0;
}

/* --- the container ------------------------------------------------------ */

static uint64_t dma_entry_limit(void)
{
	unsigned long long limit = 65535; /* the kernel's default */
	FILE *f = fopen(DMA_ENTRY_LIMIT_PARAM, "r");
	if (f) {
		if (fscanf(f, "%llu", &limit) != 1)
			limit = 65535;
		fclose(f);
	}
	return limit;
}

static ivm_status map_failed(const struct ivm_backend *be, const char *how,
			     int err)
{
	if (err == ENOSPC)
		ivm_set_status_detail(
			"VFIO container mapping limit reached at %llu mappings: "
			"vfio_iommu_type1 dma_entry_limit was %llu when the "
			"container got its IOMMU (raise it in %s)",
			(unsigned long long)ivm_load_relaxed(
				&((struct ivm_backend *)be)->container_mappings),
			(unsigned long long)be->entry_limit,
			DMA_ENTRY_LIMIT_PARAM);
	else if (be->path == IVM_VFIO_MAP_DPDK && err == ENOMEM)
		ivm_set_status_detail(
			"%s: %s: DPDK keeps at most %d non-adjacent mappings per "
			"container (use IVM_VFIO_MAP_DIRECT, or fewer, larger "
			"mappings), or the locked-memory limit was reached",
			how, strerror(err), DPDK_MAX_USER_MAPS);
	else
		ivm_set_status_detail("%s failed: %s", how, strerror(err));
	return IVM_STATUS_INSUFFICIENT_RESOURCES;
}

/* Make a record's mapping in the container; sets r->made_by. */
static ivm_status container_map(struct ivm_backend *be, struct record *r)
{
	uint64_t bytes = r->pages << IVM_PAGE_SHIFT;
	uint32_t rw = IVM_PERM_READ | IVM_PERM_WRITE;

	if ((r->perm & rw) == 0) {
		/* VFIO cannot map without access; an absent mapping faults
		 * every access, which is what the mapping means. */
		r->made_by = MADE_NONE;
		return IVM_STATUS_SUCCESS;
	}
	ivm_counter_add(&be->map_calls, 1);
	if (be->path == IVM_VFIO_MAP_DPDK && (r->perm & rw) == rw) {
		if (rte_vfio_container_dma_map(be->container, r->va, r->la,
					       bytes) != 0)
			return map_failed(be, "rte_vfio_container_dma_map",
					  rte_errno);
		r->made_by = MADE_DPDK;
	} else {
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m),
			.flags = ((r->perm & IVM_PERM_READ) ?
				  VFIO_DMA_MAP_FLAG_READ : 0) |
				 ((r->perm & IVM_PERM_WRITE) ?
				  VFIO_DMA_MAP_FLAG_WRITE : 0),
			.vaddr = r->va,
			.iova = r->la,
			.size = bytes,
		};
		if (ioctl(be->container, VFIO_IOMMU_MAP_DMA, &m) != 0)
			return map_failed(be, "VFIO_IOMMU_MAP_DMA", errno);
		r->made_by = MADE_IOCTL;
	}
	ivm_counter_add(&be->container_mappings, 1);
	return IVM_STATUS_SUCCESS;
}

static void ioctl_unmap(struct ivm_backend *be, ivm_la la, uint64_t bytes)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = la,
		.size = bytes,
	};
	ivm_counter_add(&be->unmap_calls, 1);
	/* The records say the range is exactly whole mappings; anything else
	 * means a device could still reach memory we think is unmapped. */
	if (ioctl(be->container, VFIO_IOMMU_UNMAP_DMA, &u) != 0 ||
	    u.size != bytes)
		ivm_die("VFIO_IOMMU_UNMAP_DMA [%#llx, +%#llx) removed %#llx: %s",
			(unsigned long long)la, (unsigned long long)bytes,
			(unsigned long long)u.size, strerror(errno));
}

/*
 * DPDK refused to unmap r (its table could not be split, say): the kernel
 * mapping goes with the ioctl - DPDK may already have removed it before
 * failing, so "nothing there" is fine too - and DPDK's entry is kept for a
 * retry once the last device is gone (stale_retry).
 */
static void dpdk_unmap_fallback(struct ivm_backend *be,
				const struct record *r, uint64_t bytes)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = r->la,
		.size = bytes,
	};
	ivm_counter_add(&be->unmap_calls, 1);
	if (ioctl(be->container, VFIO_IOMMU_UNMAP_DMA, &u) != 0 ||
	    (u.size != 0 && u.size != bytes))
		ivm_die("VFIO_IOMMU_UNMAP_DMA [%#llx, +%#llx) after DPDK "
			"refused: %s", (unsigned long long)r->la,
			(unsigned long long)bytes, strerror(errno));
	struct stale *grown = realloc(be->stale,
				      (be->nstale + 1) * sizeof(*grown));
	if (grown) {
		be->stale = grown;
		be->stale[be->nstale++] = (struct stale){ r->va, r->la, bytes };
	}
}

/* Called once the container has no device: DPDK then drops an entry whose
 * kernel mapping is gone. */
static void stale_retry(struct ivm_backend *be)
{
	for (size_t i = 0; i < be->nstale; i++)
		(void)rte_vfio_container_dma_unmap(be->container,
						   be->stale[i].va,
						   be->stale[i].la,
						   be->stale[i].bytes);
	be->nstale = 0;
}

/*
 * Remove records[0..n) (adjacent in logical address, all made the same
 * way, and for DPDK also adjacent in virtual address) from the container
 * in one call.  DPDK merges adjacent entries of its table, so one call
 * normally does; when it refuses, each mapping goes on its own, and the
 * ioctl is the last resort (the kernel's view is what protects memory).
 */
static void container_unmap_run(struct ivm_backend *be, struct record **run,
				 size_t n)
{
	ivm_la la = run[0]->la;
	uint64_t bytes = (run[n - 1]->la - la) +
			 (run[n - 1]->pages << IVM_PAGE_SHIFT);

	if (run[0]->made_by == MADE_IOCTL) {
		ioctl_unmap(be, la, bytes);
	} else {
		ivm_counter_add(&be->unmap_calls, 1);
		if (rte_vfio_container_dma_unmap(be->container, run[0]->va,
						 la, bytes) != 0) {
			for (size_t i = 0; i < n; i++) {
				uint64_t b = run[i]->pages << IVM_PAGE_SHIFT;
				ivm_counter_add(&be->unmap_calls, 1);
				if (rte_vfio_container_dma_unmap(
					    be->container, run[i]->va,
					    run[i]->la, b) != 0)
					dpdk_unmap_fallback(be, run[i], b);
			}
		}
	}
	ivm_counter_add(&be->unmapped, n);
	ivm_counter_add(&be->container_mappings, -(uint64_t)n);
}

/* May b join a run that ends with a? */
static bool run_continues(const struct record *a, const struct record *b)
{
	if (a->made_by != b->made_by ||
	    a->la + (a->pages << IVM_PAGE_SHIFT) != b->la)
		return false;
	return a->made_by != MADE_DPDK ||
	       a->va + (a->pages << IVM_PAGE_SHIFT) == b->va;
}

/*
 * Remove recs[0..n) (sorted by la) from the container with as few calls
 * as possible.  Records not in the container are skipped; the caller
 * deletes or resets the records.
 */
static void remove_records(struct ivm_backend *be, struct record **recs,
			   size_t n)
{
	size_t start = 0;
	for (size_t i = 1; i <= n; i++) {
		if (i < n && run_continues(recs[i - 1], recs[i]))
			continue;
		if (recs[start]->made_by != MADE_NONE)
			container_unmap_run(be, recs + start, i - start);
		start = i;
	}
}

static int record_ptr_cmp(const void *a, const void *b)
{
	const struct record *x = *(const struct record *const *)a;
	const struct record *y = *(const struct record *const *)b;
	return x->la < y->la ? -1 : x->la > y->la;
}

/*
 * Remove the records in ranges[0..n) - each a run of whole mappings -
 * from the container, coalescing adjacent mappings across ranges, and
 * delete them.  Called with be->lock held.
 */
static void remove_ranges(struct ivm_backend *be,
			  const struct pending *ranges, size_t n)
{
	if (n == 0)
		return;
	/* Copies, in logical order: deleting from the table moves slots. */
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		for (ivm_la la = ranges[i].la,
			    end = la + (ranges[i].pages << IVM_PAGE_SHIFT);
		     la < end; total++) {
			struct record *r = record_find(be, la);
			if (!r)
				ivm_die("no VFIO record at %#llx",
					(unsigned long long)la);
			be->scratch[total] = *r;
			be->order[total] = &be->scratch[total];
			la += r->pages << IVM_PAGE_SHIFT;
		}
	qsort(be->order, total, sizeof(*be->order), record_ptr_cmp);
	remove_records(be, be->order, total);
	for (size_t i = 0; i < total; i++)
		record_delete(be, record_find(be, be->scratch[i].la));
}

/* Complete every pending unmap.  Called with be->lock held. */
static void drain_pending(struct ivm_backend *be)
{
	remove_ranges(be, be->pending, be->npending);
	be->npending = 0;
}

/* Take every record out of the container (the records stay).  Called with
 * be->lock held. */
static void container_clear(struct ivm_backend *be)
{
	if (be->count == 0)
		return;
	size_t k = 0;
	for (size_t i = 0; i < be->cap; i++)
		if (be->slots[i].pages != 0)
			be->order[k++] = &be->slots[i];
	qsort(be->order, k, sizeof(*be->order), record_ptr_cmp);
	remove_records(be, be->order, k);
	for (size_t i = 0; i < be->cap; i++)
		be->slots[i].made_by = MADE_NONE;
}

/* --- backend ops -------------------------------------------------------- */

static ivm_status vfio_create(struct ivm_domain *domain,
			      const struct ivm_domain_config *config,
			      struct ivm_backend **out)
{
	const struct ivm_vfio_config *vc = config->vfio;
	const char *dir = vc && vc->dev_dir ? vc->dev_dir : "/dev/vfio";
	char node[512];

	snprintf(node, sizeof(node), "%s/vfio", dir);
	if (access(node, R_OK | W_OK) != 0) {
		ivm_set_status_detail("no VFIO on this host: %s: %s", node,
				      strerror(errno));
		return IVM_STATUS_NOT_SUPPORTED;
	}
	if (!eal_ensure(vc ? vc->eal_args : NULL))
		return IVM_STATUS_NOT_SUPPORTED;

	struct ivm_backend *be = calloc(1, sizeof(*be));
	if (!be)
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	if (pthread_mutex_init(&be->lock, NULL) != 0) {
		free(be);
		return IVM_STATUS_INSUFFICIENT_RESOURCES;
	}
	be->path = vc ? vc->map_path : IVM_VFIO_MAP_DIRECT;
	be->container = rte_vfio_container_create();
	if (be->container < 0) {
		int err = rte_errno;
		ivm_set_status_detail("rte_vfio_container_create failed: %s%s",
				      rte_strerror(err),
				      err == ENOSPC ? " (DPDK allows "
				      "RTE_MAX_VFIO_CONTAINERS containers per "
				      "process)" : "");
		pthread_mutex_destroy(&be->lock);
		free(be);
		return err == ENOSPC ? IVM_STATUS_INSUFFICIENT_RESOURCES
				     : IVM_STATUS_NOT_SUPPORTED;
	}
	*out = be;
	return IVM_STATUS_SUCCESS;
}

static struct device *device_find(struct ivm_backend *be, const char *address)
{
	for (unsigned i = 0; i < be->ndevices; i++)
		if (strcmp(be->devices[i].address, address) == 0)
			return &be->devices[i];
	return NULL;
}

static bool group_in_use(const struct ivm_backend *be, int group)
{
	for (unsigned i = 0; i < be->ndevices; i++)
		if (be->devices[i].group == group)
			return true;
	return false;
}

/* Close a device and, with its group's last device, the group (DPDK
 * forgets a group with its last device). */
static void device_release(struct ivm_backend *be, const char *address,
			   int fd)
{
	if (rte_vfio_release_device(SYSFS_PCI_DEVICES, address, fd) != 0)
		ivm_die("rte_vfio_release_device(%s) failed: %s", address,
			rte_strerror(rte_errno));
}

/* The first device gave the container an IOMMU: make every record. */
static ivm_status container_fill(struct ivm_backend *be)
{
	for (size_t i = 0; i < be->cap; i++) {
		struct record *r = &be->slots[i];
		if (r->pages == 0)
			continue;
		ivm_status status = container_map(be, r);
		if (status != IVM_STATUS_SUCCESS) {
			container_clear(be);
			return status;
		}
	}
	return IVM_STATUS_SUCCESS;
}

static ivm_status vfio_attach(struct ivm_backend *be, const char *address,
			      struct ivm_vfio_device *out)
{
	ivm_status status = IVM_STATUS_SUCCESS;
	int group = -1, fd = -1;
	bool bound = false;
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ivm_mutex_lock(&be->lock);
	if (device_find(be, address)) {
		status = IVM_STATUS_IN_USE;
		goto out;
	}
	if (be->ndevices == VFIO_MAX_DEVICES) {
		ivm_set_status_detail("a VFIO domain holds at most %d devices",
				      VFIO_MAX_DEVICES);
		status = IVM_STATUS_INSUFFICIENT_RESOURCES;
		goto out;
	}
	if (rte_vfio_get_group_num(SYSFS_PCI_DEVICES, address, &group) != 1) {
		ivm_set_status_detail("%s has no IOMMU group (no such device, "
				      "or no IOMMU)", address);
		status = IVM_STATUS_NOT_SUPPORTED;
		goto out;
	}
	if (!group_in_use(be, group)) {
		if (rte_vfio_container_group_bind(be->container, group) < 0) {
			ivm_set_status_detail("binding IOMMU group %d failed: "
					      "%s", group,
					      rte_strerror(rte_errno));
			status = IVM_STATUS_INSUFFICIENT_RESOURCES;
			goto out;
		}
		bound = true;
	}
	int r = rte_vfio_setup_device(SYSFS_PCI_DEVICES, address, &fd, &info);
	if (r != 0) {
		if (r > 0) {
			ivm_set_status_detail("%s is not bound to vfio-pci",
					      address);
			status = IVM_STATUS_NOT_SUPPORTED;
		} else {
			ivm_set_status_detail("opening %s through VFIO failed "
					      "(group %d not viable?)", address,
					      group);
			status = IVM_STATUS_INSUFFICIENT_RESOURCES;
		}
		goto err_unbind;
	}
	if (be->ndevices == 0) {
		/* The kernel read it when setup_device set the IOMMU. */
		be->entry_limit = dma_entry_limit();
		status = container_fill(be);
		if (status != IVM_STATUS_SUCCESS)
			goto err_release;
	}
	struct device *d = &be->devices[be->ndevices++];
	snprintf(d->address, sizeof(d->address), "%s", address);
	d->group = group;
	d->fd = fd;
	out->fd = fd;
	out->flags = info.flags;
	out->num_regions = info.num_regions;
	out->num_irqs = info.num_irqs;
	goto out;

err_release:
	device_release(be, address, fd);
	bound = false; /* released with its group */
err_unbind:
	if (bound)
		rte_vfio_container_group_unbind(be->container, group);
out:
	ivm_mutex_unlock(&be->lock);
	return status;
}

/* Detach devices[i]; called with be->lock held and nothing pending. */
static void device_detach(struct ivm_backend *be, unsigned i)
{
	struct device d = be->devices[i];

	if (be->ndevices == 1)
		container_clear(be); /* DPDK's table empty before it goes */
	be->devices[i] = be->devices[--be->ndevices];
	device_release(be, d.address, d.fd);
	if (be->ndevices == 0)
		stale_retry(be);
}

static ivm_status vfio_detach(struct ivm_backend *be, const char *address)
{
	ivm_status status = IVM_STATUS_SUCCESS;

	ivm_mutex_lock(&be->lock);
	struct device *d = device_find(be, address);
	if (!d) {
		status = IVM_STATUS_INVALID_PARAMETER;
	} else {
		drain_pending(be);
		device_detach(be, (unsigned)(d - be->devices));
	}
	ivm_mutex_unlock(&be->lock);
	return status;
}

static void vfio_destroy(struct ivm_backend *be)
{
	ivm_mutex_lock(&be->lock);
	drain_pending(be);
	while (be->ndevices > 0)
		device_detach(be, be->ndevices - 1);
	ivm_mutex_unlock(&be->lock);
	if (rte_vfio_container_destroy(be->container) != 0)
		ivm_die("rte_vfio_container_destroy failed: %s",
			rte_strerror(rte_errno));
	pthread_mutex_destroy(&be->lock);
	free(be->slots);
	free(be->pending);
	free(be->scratch);
	free(be->order);
	free(be->stale);
	free(be);
}

static ivm_status vfio_map(struct ivm_backend *be, ivm_la la, uint64_t pages,
			   const struct ivm_phys *phys, uint32_t permissions)
{
	if (phys->type != IVM_PHYS_BUFFER) {
		ivm_set_status_detail("a VFIO domain maps process memory: "
				      "describe it as IVM_PHYS_BUFFER");
		return IVM_STATUS_NOT_SUPPORTED;
	}
	struct record r = {
		.la = la,
		.pages = pages,
		.va = (uint64_t)(uintptr_t)phys->buffer.va,
		.perm = permissions,
		.made_by = MADE_NONE,
	};
	ivm_status status = IVM_STATUS_SUCCESS;

	ivm_mutex_lock(&be->lock);
	if (!records_reserve(be)) {
		status = IVM_STATUS_INSUFFICIENT_RESOURCES;
	} else {
		if (be->ndevices > 0)
			status = container_map(be, &r);
		if (status == IVM_STATUS_SUCCESS) {
			record_place(be, &r);
			be->count++;
		}
	}
	ivm_mutex_unlock(&be->lock);
	return status;
}

static void vfio_unmap(struct ivm_backend *be, ivm_la la, uint64_t pages)
{
	ivm_mutex_lock(&be->lock);
	/* Room by construction (see struct ivm_backend). */
	be->pending[be->npending++] = (struct pending){ la, pages };
	ivm_mutex_unlock(&be->lock);
}

static void vfio_add_range(struct ivm_backend *be, ivm_la la, uint64_t pages,
			   bool last_level)
{
	/* The unmap calls at sync invalidate; nothing to queue. */
}

static void vfio_sync(struct ivm_backend *be)
{
	ivm_mutex_lock(&be->lock);
	drain_pending(be);
	ivm_counter_add(&be->syncs, 1);
	ivm_mutex_unlock(&be->lock);
}

static void vfio_get_stats(const struct ivm_backend *be,
			   struct ivm_domain_stats *out)
{
	struct ivm_backend *b = (struct ivm_backend *)be;
	out->backend_syncs += ivm_load_relaxed(&b->syncs);
	out->vfio_map_calls += ivm_load_relaxed(&b->map_calls);
	out->vfio_unmap_calls += ivm_load_relaxed(&b->unmap_calls);
	out->vfio_unmapped += ivm_load_relaxed(&b->unmapped);
	out->vfio_container_mappings +=
		ivm_load_relaxed(&b->container_mappings);
}

const struct ivm_backend_ops ivm_vfio_ops = {
	.name = "vfio",
	.create = vfio_create,
	.destroy = vfio_destroy,
	.map = vfio_map,
	.unmap = vfio_unmap,
	.add_range = vfio_add_range,
	.sync = vfio_sync,
	.flush_all = vfio_sync,
	.attach = vfio_attach,
	.detach = vfio_detach,
	.get_stats = vfio_get_stats,
};
