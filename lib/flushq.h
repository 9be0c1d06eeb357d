/* SPDX-License-Identifier: MIT */
/*
 * flushq.h - lazy invalidation: per-CPU queues of unmapped ranges whose
 * logical addresses go back to the allocator only after the invalidation
 * that covers them has completed.
 */
#ifndef IVM_FLUSHQ_H
#define IVM_FLUSHQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iovamap/domain.h"
#include "iovamap/types.h"

struct ivm_domain;
struct flushq_cpu;

struct flushq {
	struct ivm_domain *domain;    /* set at init */
	unsigned nslots;              /* CPU slots */
	unsigned capacity;            /* entries per ring */
	bool rseq;                    /* pushes are rseq sections (rseq.h) */
	_Atomic uint64_t depth_check_ns; /* last poll that read ring depths */
	uint64_t timeout_ns;
	struct flushq_cpu *slots;

	pthread_t thread;             /* when has_thread */
	bool has_thread;
	_Atomic bool stop;

	/* Statistics, written by every flush: off the line every push
	 * reads. */
	_Alignas(128) _Atomic uint64_t batches, entries, ranges, domain_wide,
		wait_ns;
	_Atomic uint64_t in_flight;   /* taken from the rings, not yet
					 counted in entries (flushq_depth) */
};

ivm_status flushq_init(struct flushq *fq, struct ivm_domain *d,
		       const struct ivm_domain_config *config);
/* Stops the thread; the queues must have been flushed (flushq_flush_all). */
void flushq_fini(struct flushq *fq);

/* An entry: the block's address | its order | FLUSHQ_GIVE or
 * FLUSHQ_SLOT. */
#define FLUSHQ_ORDER_MASK 0x3full
#define FLUSHQ_GIVE       0x40ull /* back to the allocator after the sync */
#define FLUSHQ_SLOT       0x80ull /* a queue's slot (slots.c): released
				     to its set after the sync */

/*
 * flushq_push - queue the invalidation of the block [la, la + 2^order
 * pages), whose one mapping was already cleared from the page table and
 * told to the backend's unmap, and what happens to the block after it
 * (how: FLUSHQ_GIVE, the block's return to the allocator; FLUSHQ_SLOT,
 * its slot's release; 0, nothing).  Flushes the CPU's queue when full.
 * Context: any thread.  Blocking: only when the queue is full.  Cost: one
 * restartable sequence (no atomic read-modify-write) where rseq is usable,
 * else the slot's lock.
 */
void flushq_push(struct flushq *fq, ivm_la la, unsigned order,
		 uint64_t how);

/* Flush the queues older than the timeout; returns entries released. */
uint64_t flushq_poll(struct flushq *fq);

/* Flush every queue with one domain-wide invalidation; returns entries
 * released. */
uint64_t flushq_flush_all(struct flushq *fq);

/* Entries not yet released: in the rings, or taken by a flush under way.
 * An entry a concurrent flush releases is counted here or in fq->entries
 * read after this call, never in neither (for a moment, possibly in
 * both). */
uint64_t flushq_depth(const struct flushq *fq);

#endif /* IVM_FLUSHQ_H */
