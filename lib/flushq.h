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
	unsigned capacity;            /* entries per slot */
	uint64_t timeout_ns;
	struct flushq_cpu *slots;

	pthread_t thread;             /* when has_thread */
	bool has_thread;
	_Atomic bool stop;

	_Atomic uint64_t batches, entries, ranges, domain_wide, wait_ns;
};

ivm_status flushq_init(struct flushq *fq, struct ivm_domain *d,
		       const struct ivm_domain_config *config);
/* Stops the thread; the queues must have been flushed (flushq_flush_all). */
void flushq_fini(struct flushq *fq);

/*
 * flushq_push - queue the invalidation of [la, la + pages) (already
 * cleared from the page table and told to the backend's unmap) and the
 * release of the logical space (give_la, give_pages, block: as for
 * domain_give_space) after it.  Flushes the CPU's queue when full.
 * Context: any thread.  Blocking: only when the queue is full.
 */
void flushq_push(struct flushq *fq, ivm_la la, uint64_t pages,
		 uint64_t give_pages, bool block);

/* Flush the queues older than the timeout; returns entries released. */
uint64_t flushq_poll(struct flushq *fq);

/* Flush every queue with one domain-wide invalidation; returns entries
 * released. */
uint64_t flushq_flush_all(struct flushq *fq);

/* Entries waiting in all queues now. */
uint64_t flushq_depth(const struct flushq *fq);

#endif /* IVM_FLUSHQ_H */
