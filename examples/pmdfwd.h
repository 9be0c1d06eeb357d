/* SPDX-License-Identifier: MIT */
/*
 * pmdfwd.h - a PMD-style forwarding loop with a software NIC, without an
 * IOMMU and in four IOMMU modes: the engine of examples/pmd_fwd.c (Mpps
 * on the terminal) and of bench/bench_pmd.c (the same loop under Google
 * Benchmark, JSON).
 *
 * One forwarder owns a net_null virtual port (rx allocates mbufs from the
 * forwarder's pool, tx frees them) and a modelled transmit engine: per
 * burst
 *
 *   rx burst (32) -> per packet, the address for the descriptor:
 *        PMDFWD_NO_IOMMU     rte_mbuf_data_iova(m), DPDK's own IOVA
 *        PMDFWD_POOL_MAPPED  rte_mbuf_data_iova(m), iovamap's IOVA (the pool
 *                            was mapped once with ivm_dpdk_pool_map)
 *        PMDFWD_STRICT       per packet, mapped read-only on transmit: the
 *                            burst's segments in one call, in a slot of the
 *                            transmit queue's own (ivm_dpdk_txq_map)
 *        PMDFWD_STRICT_BURST as PMDFWD_STRICT, the burst's logical block
 *                            from the domain's allocator
 *                            (ivm_dpdk_burst_map)
 *        PMDFWD_STRICT_SEG   per packet, one mapping per segment
 *                            (ivm_dpdk_seg_map), read-only
 *   -> the device fetches each descriptor's frame (reads its first 8
 *      bytes).  Without an IOMMU the address is the memory's (IOVA-as-VA).
 *      With one, two models of the IOMMU:
 *        PMDFWD_DEV_HW  a hardware IOMMU: the walk happens in the IOMMU,
 *                       not on the CPU, so the model charges nothing for
 *                       it; it checks one descriptor in 1024 through the
 *                       domain (ivm_translate) to prove the address right
 *        PMDFWD_DEV_SW  a software device (the software IOMMU model, a
 *                       vhost-style consumer): every descriptor address is
 *                       translated through the domain (ivm_translate: RCU
 *                       read side, lock-free table walk) on the CPU
 *      and checks that the address reached the mbuf's data
 *   -> completion (the device is done with the whole burst, as a NIC
 *      reports it on the burst's last, report-status descriptor):
 *      PMDFWD_STRICT unmaps the burst (ivm_dpdk_txq_unmap), PMDFWD_STRICT_BURST
 *      too (ivm_dpdk_burst_unmap), PMDFWD_STRICT_SEG each segment
 *      (ivm_dpdk_seg_unmap); all queue the invalidation on the lazy flush
 *      queue
 *   -> tx burst to the port (frees the mbufs)
 *   -> ivm_quiescent() (QSBR builds); the strict modes: ivm_flush_poll()
 *      (the lazy timeout).
 *
 * The domain is a software-IOMMU domain (the embedded default backend) with
 * a Buddy allocator and lazy flush queues.  DPDK's EAL must be running in
 * IOVA-as-VA mode (--iova-mode=va) with the net_null driver available.
 * One forwarder is driven by one thread at a time.
 */
#ifndef IVM_EXAMPLES_PMDFWD_H
#define IVM_EXAMPLES_PMDFWD_H

#include <stdbool.h>
#include <stdint.h>

enum pmdfwd_mode {
	PMDFWD_NO_IOMMU = 0,
	PMDFWD_POOL_MAPPED = 1,
	PMDFWD_STRICT = 2,
	PMDFWD_STRICT_BURST = 3,
	PMDFWD_STRICT_SEG = 4,
};
#define PMDFWD_MODES 5

/* The modes that map on transmit and unmap on completion (the strict
 * ones come last). */
static inline bool pmdfwd_mode_strict(enum pmdfwd_mode mode)
{
	return mode >= PMDFWD_STRICT;
}

enum pmdfwd_device {
	PMDFWD_DEV_HW = 0,
	PMDFWD_DEV_SW = 1,
};

struct pmdfwd;
struct ivm_domain;

struct pmdfwd_stats {
	uint64_t packets;  /* forwarded */
	uint64_t bad;      /* descriptors the device could not reach, or
			    * that reached other bytes than the mbuf's */
	uint64_t mappings; /* the domain's live mappings now */
	uint64_t in_use;   /* mbufs out of the pool now (0 between runs) */
};

/* CLOCK_MONOTONIC in ns, for timing runs of the loop. */
uint64_t pmdfwd_now_ns(void);

/* "no-iommu", "pool-mapped", "strict", "strict-seg", or NULL. */
const char *pmdfwd_mode_name(enum pmdfwd_mode mode);

/* The domain a forwarder maps into: a lazy buddy-allocator domain, 39
 * address bits.  NULL (with the reason on stderr) on failure. */
struct ivm_domain *pmdfwd_domain_create(void);

/* Make a forwarder: a net_null port named after id, a pool, a domain
 * (none for PMDFWD_NO_IOMMU).  NULL (with the reason on stderr) on
 * failure.  Call from an EAL thread or any thread after rte_eal_init. */
struct pmdfwd *pmdfwd_create(enum pmdfwd_mode mode,
			      enum pmdfwd_device device, unsigned id);

/* Forward at least n packets (whole bursts); returns how many. */
uint64_t pmdfwd_run(struct pmdfwd *f, uint64_t n);

void pmdfwd_stats(const struct pmdfwd *f, struct pmdfwd_stats *out);

/* Stop the port, unmap the pool, free everything.  NULL: nothing. */
void pmdfwd_destroy(struct pmdfwd *f);

#endif /* IVM_EXAMPLES_PMDFWD_H */
