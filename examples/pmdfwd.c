/* SPDX-License-Identifier: MIT */
/*
 * pmdfwd.c - the forwarding loop of examples/pmdfwd.h.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <iovamap/dpdk.h>
#include <iovamap/iovamap.h>

#include "pmdfwd.h"

#define BURST 32
#define RING_SIZE 512
#define POOL_SIZE 4095
#define POOL_CACHE 256

/* A transmit descriptor, as the device reads it. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint32_t flags;
};

struct pmdfwd {
	enum pmdfwd_mode mode;
	bool translate_all; /* PMDFWD_DEV_SW */
	uint32_t seq;       /* descriptors fetched, for PMDFWD_DEV_HW's checks */
	uint16_t port;
	bool vdev_made;
	char port_name[32];
	struct rte_mempool *pool;
	struct ivm_domain *domain;
	struct ivm_dpdk_pool *pool_map;
	struct ivm_dpdk_txq *txq; /* PMDFWD_STRICT: the queue's own slots */
	uint64_t packets;
	uint64_t bad;
	uint64_t sink; /* what the device read: keeps the reads alive */
	struct desc ring[BURST];
	ivm_la iova[BURST]; /* the strict burst modes: the burst's addresses */
};

static const char *const mode_names[PMDFWD_MODES] = {
	[PMDFWD_NO_IOMMU] = "no-iommu",
	[PMDFWD_POOL_MAPPED] = "pool-mapped",
	[PMDFWD_STRICT] = "strict",
	[PMDFWD_STRICT_BURST] = "strict-burst",
	[PMDFWD_STRICT_SEG] = "strict-seg",
};

uint64_t pmdfwd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *pmdfwd_mode_name(enum pmdfwd_mode mode)
{
	return (unsigned)mode < PMDFWD_MODES ? mode_names[mode] : NULL;
}

struct ivm_domain *pmdfwd_domain_create(void)
{
	struct ivm_allocator_config buddy = {
		.type = IVM_ALLOCATOR_BUDDY,
		.address_width = 39,
	};
	struct ivm_domain_config cfg = {
		.allocator = &buddy,
		.flush_mode = IVM_FLUSH_LAZY,
	};
	struct ivm_domain *d = NULL;
	ivm_status st = ivm_domain_create(&cfg, &d);

	if (st != IVM_STATUS_SUCCESS)
		fprintf(stderr, "pmdfwd: ivm_domain_create: %s\n",
			ivm_status_name(st));
	return d;
}

static int start_port(struct pmdfwd *f)
{
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_vdev_init(f->port_name, NULL);
	f->vdev_made = rc == 0;
	if (rc == 0)
		rc = rte_eth_dev_get_port_by_name(f->port_name, &f->port);
	if (rc == 0)
		rc = rte_eth_dev_configure(f->port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(f->port, 0, RING_SIZE,
					    (unsigned)rte_socket_id(), NULL,
					    f->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(f->port, 0, RING_SIZE,
					    (unsigned)rte_socket_id(), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(f->port);
	if (rc != 0)
		fprintf(stderr, "pmdfwd: port %s: %s\n", f->port_name,
			rte_strerror(rc < 0 ? -rc : rte_errno));
	return rc;
}

struct pmdfwd *pmdfwd_create(enum pmdfwd_mode mode,
			      enum pmdfwd_device device, unsigned id)
{
	struct pmdfwd *f;
	char name[RTE_MEMPOOL_NAMESIZE];
	ivm_status st;

	if (pmdfwd_mode_name(mode) == NULL)
		return NULL;
	if (rte_eal_iova_mode() != RTE_IOVA_VA) {
		fprintf(stderr, "pmdfwd: needs DPDK's IOVA-as-VA mode "
				"(--iova-mode=va)\n");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->mode = mode;
	f->translate_all = device == PMDFWD_DEV_SW;
	f->port = UINT16_MAX;
	snprintf(f->port_name, sizeof(f->port_name), "net_null_fwd%u", id);
	snprintf(name, sizeof(name), "fwd_pool%u", id);
	f->pool = rte_pktmbuf_pool_create(name, POOL_SIZE, POOL_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  (int)rte_socket_id());
	if (f->pool == NULL) {
		fprintf(stderr, "pmdfwd: rte_pktmbuf_pool_create: %s\n",
			rte_strerror(rte_errno));
		goto fail;
	}
	if (mode != PMDFWD_NO_IOMMU) {
		f->domain = pmdfwd_domain_create();
		if (f->domain == NULL)
			goto fail;
	}
	if (mode == PMDFWD_POOL_MAPPED) {
		/* Once, before the port may hand out any mbuf. */
		st = ivm_dpdk_pool_map(f->domain, f->pool,
				       IVM_PERM_READ | IVM_PERM_WRITE,
				       &f->pool_map);
		if (st != IVM_STATUS_SUCCESS) {
			fprintf(stderr, "pmdfwd: ivm_dpdk_pool_map: %s %s\n",
				ivm_status_name(st), ivm_status_detail());
			goto fail;
		}
	}
	if (mode == PMDFWD_STRICT) {
		st = ivm_dpdk_txq_create(f->domain, 0, 0, &f->txq);
		if (st != IVM_STATUS_SUCCESS) {
			fprintf(stderr, "pmdfwd: ivm_dpdk_txq_create: %s %s\n",
				ivm_status_name(st), ivm_status_detail());
			goto fail;
		}
	}
	if (start_port(f) != 0)
		goto fail;
	return f;
fail:
	pmdfwd_destroy(f);
	return NULL;
}

/* The model's proof for an IOMMU mode: descriptor i's address
 * translates, readable, to the mbuf's data.  A cold table walk each. */
static bool device_proves(struct pmdfwd *f, const struct rte_mbuf *m,
			  uint16_t i)
{
	uint64_t pa;
	uint32_t perm;

	return ivm_translate(f->domain, f->ring[i].addr, &pa, &perm) ==
		       IVM_STATUS_SUCCESS &&
	       (perm & IVM_PERM_READ) && pa == rte_pktmbuf_mtod(m, uintptr_t);
}

/* The device fetches each descriptor's frame (its first 8 bytes) and
 * checks that it reached the mbuf's data.  Its counters live in locals
 * for the burst: the device's bookkeeping is not the PMD's cost.
 *
 * Without an IOMMU the device reads at the descriptor's address.  With
 * one, a hardware IOMMU resolves the address on its own: the model reads
 * the frame where the IOMMU would find it, and proves the address by a
 * table walk for every descriptor (PMDFWD_DEV_SW) or for one descriptor
 * in 1024, chosen before the loop so that the loop is the same as
 * without an IOMMU (checking more often would charge the CPU for what
 * the IOMMU does). */
static void device_fetch(struct pmdfwd *f, struct rte_mbuf *const pkts[],
			 uint16_t nb)
{
	const bool iommu = f->mode != PMDFWD_NO_IOMMU;
	uint64_t sink = 0, bad = 0;

	if (iommu) {
		/* The descriptors whose sequence number is a multiple of
		 * 1024 (every one with translate_all). */
		uint32_t step = f->translate_all ? 1 : 1024;
		uint32_t i = f->translate_all ? 0 : -f->seq & 1023;

		for (; i < nb; i += step)
			bad += !device_proves(f, pkts[i], (uint16_t)i);
		f->seq += nb;
	}
	for (uint16_t i = 0; i < nb; i++) {
		uintptr_t data = rte_pktmbuf_mtod(pkts[i], uintptr_t);
		uint64_t v;

		if (!iommu && (uintptr_t)f->ring[i].addr != data) {
			bad++;
			continue;
		}
		memcpy(&v, (const void *)data, sizeof(v));
		sink += v;
	}
	f->sink += sink;
	f->bad += bad;
}

/* Transmit: the descriptors' addresses for the burst.  PMDFWD_STRICT and
 * PMDFWD_STRICT_BURST map the burst in *burst. */
static void tx_map(struct pmdfwd *f, struct rte_mbuf **pkts, uint16_t nb,
		   struct ivm_dpdk_burst *burst)
{
	uint16_t i;

	switch (f->mode) {
	case PMDFWD_STRICT:
	case PMDFWD_STRICT_BURST:
		if ((f->txq != NULL ? ivm_dpdk_txq_map(f->txq, pkts, nb,
						       IVM_PERM_READ, f->iova,
						       burst)
				    : ivm_dpdk_burst_map(f->domain, pkts, nb,
							 IVM_PERM_READ,
							 f->iova, burst)) !=
		    IVM_STATUS_SUCCESS) {
			f->bad += nb;
			memset(f->iova, 0, sizeof(f->iova));
			burst->count = 0;
		}
		for (i = 0; i < nb; i++) {
			f->ring[i].addr = f->iova[i];
			f->ring[i].len = pkts[i]->data_len;
		}
		break;
	case PMDFWD_STRICT_SEG:
		for (i = 0; i < nb; i++) {
			ivm_la la = 0;

			if (ivm_dpdk_seg_map(f->domain, pkts[i], IVM_PERM_READ,
					     &la) != IVM_STATUS_SUCCESS)
				f->bad++;
			f->ring[i].addr = la;
			f->ring[i].len = pkts[i]->data_len;
		}
		break;
	default:
		for (i = 0; i < nb; i++) {
			f->ring[i].addr = rte_mbuf_data_iova(pkts[i]);
			f->ring[i].len = pkts[i]->data_len;
		}
		break;
	}
}

/* Completion: the device is done with every descriptor of the burst. */
static void tx_complete(struct pmdfwd *f, struct rte_mbuf **pkts, uint16_t nb,
			const struct ivm_dpdk_burst *burst)
{
	uint16_t i;

	if (burst->count != 0 &&
	    (f->txq != NULL ? ivm_dpdk_txq_unmap(f->txq, pkts, nb, burst)
			    : ivm_dpdk_burst_unmap(f->domain, pkts, nb,
						   burst)) != IVM_STATUS_SUCCESS)
		f->bad += nb;
	if (f->mode == PMDFWD_STRICT_SEG)
		for (i = 0; i < nb; i++)
			if (ivm_dpdk_seg_unmap(f->domain, pkts[i],
					       f->ring[i].addr) !=
			    IVM_STATUS_SUCCESS)
				f->bad++;
}

uint64_t pmdfwd_run(struct pmdfwd *f, uint64_t n)
{
	struct rte_mbuf *pkts[BURST];
	bool strict = pmdfwd_mode_strict(f->mode);
	uint64_t done = 0;

	while (done < n) {
		struct ivm_dpdk_burst burst = { 0 };
		uint16_t nb = rte_eth_rx_burst(f->port, 0, pkts, BURST);
		uint16_t i, sent;

		if (nb == 0)
			break; /* the pool ran dry: a leak, reported by the caller */
		tx_map(f, pkts, nb, &burst);
		device_fetch(f, pkts, nb);
		tx_complete(f, pkts, nb, &burst);
		sent = rte_eth_tx_burst(f->port, 0, pkts, nb);
		for (i = sent; i < nb; i++)
			rte_pktmbuf_free(pkts[i]);
		ivm_quiescent();
		/* The lazy timeout: only the strict modes ever unmap. */
		if (strict)
			ivm_flush_poll(f->domain, NULL);
		done += nb;
	}
	f->packets += done;
	return done;
}

void pmdfwd_stats(const struct pmdfwd *f, struct pmdfwd_stats *out)
{
	struct ivm_domain_stats ds;

	out->packets = f->packets;
	out->bad = f->bad;
	out->mappings = 0;
	out->in_use = rte_mempool_in_use_count(f->pool);
	if (f->domain != NULL &&
	    ivm_domain_get_stats(f->domain, &ds) == IVM_STATUS_SUCCESS)
		out->mappings = ds.mappings;
}

void pmdfwd_destroy(struct pmdfwd *f)
{
	if (f == NULL)
		return;
	if (f->port != UINT16_MAX) {
		rte_eth_dev_stop(f->port);
		rte_eth_dev_close(f->port);
	}
	if (f->vdev_made)
		rte_vdev_uninit(f->port_name);
	ivm_dpdk_pool_unmap(&f->pool_map);
	if (ivm_dpdk_txq_destroy(&f->txq) != IVM_STATUS_SUCCESS)
		fprintf(stderr, "pmdfwd: a burst is still mapped\n");
	ivm_domain_destroy(&f->domain);
	rte_mempool_free(f->pool);
	free(f);
}
